"""What the integration tests share: a real Kafka-protocol broker (the bundled Tansu) for the
session, live workers on it, the outage scenario, a real HTTP receiver, and waits with deadlines.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiokafka import AIOKafkaProducer

from streams.cli.tail import tail
from streams.domain.timestamps import parse_ts
from streams.runtime.kafka.clients import client_options, ensure_topics
from streams.runtime.kafka.lifecycle import terminate
from streams.runtime.kafka.local_broker import LocalBroker, free_port
from streams.runtime.settings import Settings
from streams.runtime.state.changelog import read_after
from streams.synthetic.traffic import iter_jsonl, preset

Message = dict[str, object]

T0 = parse_ts("2026-11-23T00:00:00Z")  # the start of the two-hour outage scenario
# A replay must never look idle: the bundled broker under-reports a partition's end offset
# (one past the first record of its last batch), so "no lag" can be wrong by a batch, and a
# pause of the consumer longer than the idle timeout would then move event time to the clock.
REPLAY_IDLE = "30s"
READY_WITHIN = 90.0  # seconds for a worker to join the group and hold input partitions


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
        self.started: dict[str, subprocess.Popen[bytes]] = {}  # worker name -> its latest process
        topics = self.settings.topics
        asyncio.run(ensure_topics(self.settings, [topics.requests, topics.alerts, topics.budgets,
                                                  topics.dead_letter]))

    def start_worker(self, name: str = "w1", *, wait: bool = True) -> subprocess.Popen[bytes]:
        """Start a worker, and unless told not to, wait until it is ready (`wait_ready`)."""
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
        self.started[name] = process
        if wait:
            self.wait_ready(name)
        return process

    def health(self, name: str) -> dict[str, Any] | None:
        """A worker's `/healthz` answer, or None while its API does not answer."""
        try:
            with urllib.request.urlopen(f"{self.api[name]}/healthz", timeout=2) as answer:
                return orjson.loads(answer.read())  # type: ignore[no-any-return]
        except (OSError, orjson.JSONDecodeError):  # refused, reset, timed out, HTTP errors
            return None

    def partitions(self, name: str) -> list[int]:
        """The input partitions a worker holds now, from its API (none while it does not answer)."""
        health = self.health(name)
        return list(health["partitions"]) if health else []

    def ready(self, name: str) -> bool:
        """Whether a worker's API answers and the worker holds input partitions: it consumes."""
        return bool(self.partitions(name))

    def wait_ready(self, *names: str, timeout: float = READY_WITHIN) -> None:
        for name in names:
            wait_for(partial(self._ready_or_exited, name), timeout, self,
                     f"worker {name} to hold input partitions (GET /healthz)")

    def _ready_or_exited(self, name: str) -> bool:
        """Ready, or a failure at once: a worker that exited never will be."""
        process = self.started[name]
        assert process.poll() is None, f"worker {name} exited ({process.returncode})\n{self.logs()}"
        return self.ready(name)

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


def wait_for(what: Callable[[], bool], timeout: float, live: Live, doing: str) -> None:
    """Poll `what` until it holds; past the deadline, fail with the workers' logs."""
    deadline = time.monotonic() + timeout
    while not what():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {doing}\n{live.logs()}")
        time.sleep(0.2)


def kill(live: Live, index: int) -> None:
    process = live.workers[index]
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)


def read(live: Live, topic: str, quiet_ms: int = 1000) -> list[Message]:
    """Every message of a topic, once it has been quiet for `quiet_ms`."""
    return [orjson.loads(v) for v in asyncio.run(read_after(live.settings, topic, {},
                                                            quiet_ms=quiet_ms))]


def produce(live: Live, events: Path) -> None:
    done = live.cli("produce", "--events", str(events), "--quiet")
    assert done.returncode == 0, done.stderr


def send(live: Live, topic: str, *messages: Message) -> None:
    async def run() -> None:
        producer = AIOKafkaProducer(**client_options(live.settings))
        await producer.start()
        try:
            for message in messages:
                await producer.send_and_wait(topic, orjson.dumps(message))
        finally:
            await producer.stop()

    asyncio.run(run())


def send_keyed(live: Live, topic: str, messages: list[tuple[bytes, bytes]]) -> None:
    """Raw (key, value) messages to a topic, in order."""
    async def run() -> None:
        producer = AIOKafkaProducer(**client_options(live.settings))
        await producer.start()
        try:
            for key, value in messages:
                await producer.send_and_wait(topic, value, key=key)
        finally:
            await producer.stop()

    asyncio.run(run())


def send_requests(live: Live, messages: list[tuple[bytes, bytes]]) -> None:
    """Raw (key, value) messages to the input topic, as a producer keying by service sends
    them; values up to 4 MiB, so a test can send one over the worker's own size limit."""
    async def run() -> None:
        producer = AIOKafkaProducer(**client_options(live.settings), max_request_size=4 << 20)
        await producer.start()
        try:
            for key, value in messages:
                await producer.send_and_wait(live.settings.topics.requests, value, key=key)
        finally:
            await producer.stop()

    asyncio.run(run())


def scenario(tmp_path: Path, cut: float) -> tuple[Path, Path]:
    """The two-hour outage scenario from T0, in two files: events before `cut` and the rest."""
    lines = list(iter_jsonl(preset("outage", start=T0, duration=2 * 3600, rate=25, seed=3)))
    first, rest = tmp_path / "first.jsonl", tmp_path / "rest.jsonl"
    first.write_bytes(b"".join(line for line in lines if orjson.loads(line)["ts"] < cut))
    rest.write_bytes(b"".join(line for line in lines if orjson.loads(line)["ts"] >= cut))
    return first, rest


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


class HttpReceiver:
    """Answers POST /<path> with the statuses scripted for that path (then 202), in a thread."""

    def __init__(self) -> None:
        self.port = free_port()
        self.requests: dict[str, list[dict[str, Any]]] = defaultdict(list)  # accepted or not
        self.script: dict[str, list[int]] = defaultdict(list)
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def answer(self, path: str, *statuses: int) -> None:
        with self._lock:
            self.script[path] += list(statuses)

    def release(self, path: str) -> None:
        """Drop the statuses still scripted for a path: from now on it accepts (202)."""
        with self._lock:
            self.script[path].clear()

    def received(self, path: str, status: int | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.requests[path] if status is None or r["status"] == status]

    def __enter__(self) -> HttpReceiver:
        self._thread.start()
        assert self._ready.wait(10), "receiver did not start"
        return self

    def __exit__(self, *_: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/{path}", self._handle)
        runner = web.AppRunner(app)
        self._loop.run_until_complete(runner.setup())
        self._loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())

    async def _handle(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        body = orjson.loads(await request.read())
        with self._lock:
            status = self.script[path].pop(0) if self.script[path] else 202
            self.requests[path].append({"status": status, "body": body,
                                        "key": request.headers.get("Idempotency-Key"),
                                        "authorization": request.headers.get("Authorization")})
        return web.json_response({"status": "ok" if status < 300 else "error"}, status=status)
