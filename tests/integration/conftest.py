"""A real Kafka-protocol broker (the bundled Tansu) for the session, and live workers."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest

from streams.cli.tail import tail
from streams.runtime.kafka_clients import ensure_topics
from streams.runtime.lifecycle import terminate
from streams.runtime.local_broker import LocalBroker, free_port
from streams.runtime.settings import Settings


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    log = tmp_path_factory.mktemp("broker") / "broker.log"
    with LocalBroker(log=log) as running:
        yield running


class Live:
    """One test's topics and workers on the shared broker."""

    def __init__(self, broker: LocalBroker, workdir: Path, slos: Path, **env: str) -> None:
        self.workdir = workdir
        self.prefix = f"t{uuid.uuid4().hex[:8]}."
        self.settings = Settings.load({"broker": broker.url, "topic_prefix": self.prefix,
                                       "slos": str(slos)})
        self.env = {**os.environ, "SRE_BROKER": broker.url, "SRE_SLOS": str(slos),
                    "SRE_TOPIC_PREFIX": self.prefix, "SRE_APP_ID": f"app-{self.prefix}",
                    "SRE_IDLE_TIMEOUT": "3s", **env}
        self.workers: list[subprocess.Popen[bytes]] = []
        self.api: dict[str, str] = {}  # worker name -> its API's base URL
        topics = self.settings.topics
        asyncio.run(ensure_topics(self.settings, [topics.requests, topics.alerts, topics.budgets,
                                                  topics.dead_letter]))

    def start_worker(self, name: str = "w1") -> subprocess.Popen[bytes]:
        data = self.workdir / name
        data.mkdir(exist_ok=True)
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child
        port = free_port()
        self.api[name] = f"http://127.0.0.1:{port}"
        process = subprocess.Popen(
            [sys.executable, "-m", "streams", "worker", "-l", "info"],
            env={**self.env, "SRE_DATA_DIR": str(data / "faust"), "SRE_API_HOST": "127.0.0.1",
                 "SRE_API_PORT": str(port), "SRE_API_URL": self.api[name]}, cwd=data,
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
        self.workers.append(process)
        return process

    def cli(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "streams", *argv], env=self.env,
                              capture_output=True, text=True, timeout=300, check=False)

    def collect(self, topic: str, until: Callable[[list[dict[str, object]]], bool],
                timeout: float) -> list[dict[str, object]]:
        """Read a topic from the start until `until(messages)` holds or the deadline passes."""
        deadline = time.monotonic() + timeout
        while True:
            messages: list[dict[str, object]] = []

            def keep(value: bytes, messages: list[dict[str, object]] = messages) -> None:
                messages.append(orjson.loads(value))

            asyncio.run(tail(self.settings, topic, keep, timeout=2.0))
            if until(messages) or time.monotonic() > deadline:
                return messages
            for worker in self.workers:
                assert worker.poll() is None, self.logs()
            time.sleep(1.0)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:]
                         for p in sorted(self.workdir.glob("*.log")))

    def stop(self) -> None:
        terminate(*self.workers, grace=20.0)


@pytest.fixture
def live_factory(broker: LocalBroker, tmp_path: Path) -> Iterator[Callable[..., Live]]:
    made: list[Live] = []

    def make(slos: Path, **env: str) -> Live:
        live = Live(broker, tmp_path, slos, **env)
        made.append(live)
        return live

    yield make
    for live in made:
        live.stop()
