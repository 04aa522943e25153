"""`sre-streams demo`: a broker, a worker and live traffic with an outage, shown as it burns.

With no broker configured it starts the bundled local broker on a free loopback port. The
worker runs as a child process (`sre-streams worker`); traffic comes from the generator:
a day of history first (as count events), then live traffic in real time with a checkout outage
in one region. A deploy is announced just before the outage; the page opens an incident, which
escalates to a chat channel when nobody acknowledges it, is acknowledged, and resolves once
the alerts do. Pages and chat messages go to a small receiver inside the demo, shown as they
arrive. Ctrl-C (or SIGTERM, or `--duration`) stops all of it, prints the postmortem draft of
the last resolved incident, and removes what it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TextIO

import orjson
from aiohttp import web
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from streams.demo.scenario import OUTAGE_AFTER, OUTAGE_FOR, demo_slos, traffic
from streams.demo.view import View, show
from streams.domain.timestamps import format_ts
from streams.runtime.kafka.clients import client_options, ensure_topics
from streams.runtime.kafka.lifecycle import terminate
from streams.runtime.kafka.local_broker import LocalBroker, free_port
from streams.runtime.settings import Settings, from_env

ACK_AFTER = 10.0  # the on-call person acknowledges this long after the escalation
# What the demo adds to its SLO file: escalation to a chat channel when a page is not
# acknowledged within 30 s, and receivers at the demo's own local pager.
PAGING = """
incidents:
  escalation:
    levels:
      - {{after: 30s, notify: [demo-chat]}}
notify:
  receivers:
    - name: demo-pager
      pagerduty: {{routing_key: "{key}", url: "{url}/pager"}}
    - name: demo-chat
      webhook: {{url: "{url}/chat", format: slack}}
  routes:
    - {{receiver: demo-pager}}
"""
DEMO_ROUTING_KEY = "demo0000000000000000000000000000"


def write_demo_slos(workdir: Path, pager_url: str) -> Path:
    """The demo's SLO file with its paging sections, pointing at the demo's receiver."""
    path = workdir / "slos.yaml"
    path.write_text(demo_slos().read_text() + PAGING.format(key=DEMO_ROUTING_KEY, url=pager_url))
    return path


async def _pager(view: View, port: int, stop: asyncio.Event) -> None:
    """The demo's pager and chat: accepts what the notifier sends and shows it."""
    async def receive(request: web.Request) -> web.Response:
        view.on_page(request.match_info["receiver"], orjson.loads(await request.read()))
        return web.json_response({"status": "success"}, status=202)

    app = web.Application()
    app.router.add_post("/{receiver}", receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        await stop.wait()
    finally:
        await runner.cleanup()


async def _people(settings: Settings, view: View, stop: asyncio.Event) -> None:
    """What people and pipelines do: a deploy shortly before the outage, an acknowledgement
    some seconds after an incident escalates."""
    producer = AIOKafkaProducer(**client_options(settings))
    await producer.start()
    deployed = False
    acked: set[str] = set()
    try:
        while not stop.is_set():
            now = time.time()
            if not deployed and view.outage_at is not None and now >= view.outage_at - 10:
                await producer.send(settings.topics.deploys, orjson.dumps(
                    {"ts": format_ts(now), "service": "checkout", "version": "v2.4.1",
                     "by": "deploy-pipeline"}))
                view.alerts.append(f"{format_ts(now)}  deploy   checkout v2.4.1")
                deployed = True
            for ident, seen in list(view.escalated.items()):
                if ident not in acked and time.monotonic() - seen >= ACK_AFTER:
                    await producer.send(settings.topics.commands, orjson.dumps(
                        {"command": "ack", "incident": ident, "by": "on-call",
                         "ts": format_ts(now)}))
                    acked.add(ident)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
    finally:
        await producer.stop()


async def _watch(settings: Settings, view: View, stop: asyncio.Event) -> None:
    consumer = AIOKafkaConsumer(settings.topics.alerts, settings.topics.budgets,
                                settings.topics.incidents, **client_options(settings), group_id=None,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        while not stop.is_set():
            for messages in (await consumer.getmany(timeout_ms=200)).values():
                for message in messages:
                    if message.value is not None:
                        view.on_message(message.value)
    finally:
        await consumer.stop()


def _start_worker(settings: Settings, workdir: Path, slos: Path,
                  api_port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SRE_BROKER": settings.broker, "SRE_SLOS": str(slos),
           "SRE_API_HOST": "127.0.0.1", "SRE_API_PORT": str(api_port),
           "SRE_API_URL": f"http://127.0.0.1:{api_port}",
           "SRE_DATA_DIR": str(workdir / "data"), "SRE_APP_ID": settings.app_id,
           "SRE_BUDGET_INTERVAL": "10s", "SRE_IDLE_TIMEOUT": "5s",
           "SRE_TOPIC_PREFIX": settings.topic_prefix,
           "SRE_SESSION_TIMEOUT": f"{settings.session_timeout}s"}
    log = open(workdir / "worker.log", "ab")  # noqa: SIM115 - handed to the child
    return subprocess.Popen([sys.executable, "-m", "streams", "worker", "-l", "warn"],
                            env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                            start_new_session=True, cwd=workdir)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_demo(settings: Settings, *, embedded: bool, out: TextIO, duration: float | None,
             keep: bool = False) -> int:
    """Run the demo until Ctrl-C, SIGTERM or `duration` seconds; 0 when stopped cleanly."""
    # Until the event loop takes over the signals, SIGTERM and SIGHUP interrupt like Ctrl-C,
    # so the cleanup below always runs.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    workdir = Path(tempfile.mkdtemp(prefix="sre-streams-demo-"))
    broker: LocalBroker | None = None
    worker: subprocess.Popen[bytes] | None = None
    tty = out.isatty()
    try:
        if embedded:
            print("starting the bundled broker ...", file=out, flush=True)
            broker = LocalBroker(log=workdir / "broker.log").start()
            # The bundled broker holds a group join for half the session timeout: a short
            # one starts the worker in about 2 s instead of 4 (one worker, little traffic).
            settings = Settings.load({"broker": broker.url, "app_id": settings.app_id,
                                      "topic_prefix": settings.topic_prefix,
                                      "session_timeout": from_env("session_timeout") or "2s"})
        print(f"broker {settings.broker}; starting the worker (log: {workdir / 'worker.log'}) ...",
              file=out, flush=True)
        topics = settings.topics
        asyncio.run(ensure_topics(settings, [topics.requests, topics.alerts, topics.budgets,
                                             topics.dead_letter, topics.incidents,
                                             topics.commands, topics.deploys]))
        port, api_port = free_port(), free_port()
        worker = _start_worker(settings, workdir,
                               write_demo_slos(workdir, f"http://127.0.0.1:{port}"), api_port)
        print(f"web page: http://127.0.0.1:{api_port}/ (budgets burning down, burn rates, "
              "incidents; open it in a browser)", file=out, flush=True)
        print(f"API: http://127.0.0.1:{api_port}/v1/gates/checkout (deploy gate), /v1/slos, "
              f"/v1/incidents, /metrics", file=out, flush=True)
        return asyncio.run(_main(settings, out, duration, tty, worker, port))
    finally:
        if worker is not None:
            terminate(worker, grace=15.0)
        if broker is not None:
            broker.stop()
        if keep:
            print(f"logs kept in {workdir}", file=out)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


async def _main(settings: Settings, out: TextIO, duration: float | None, tty: bool,
                worker: subprocess.Popen[bytes], pager_port: int) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(signum, stop.set)
    view = View(OUTAGE_AFTER, OUTAGE_FOR)
    tasks = [asyncio.create_task(coro) for coro in (
        traffic(settings, view, stop), _watch(settings, view, stop), show(view, out, stop, tty),
        _pager(view, pager_port, stop), _people(settings, view, stop))]
    deadline = None if duration is None else loop.time() + duration
    code = 0
    while not stop.is_set():
        if worker.poll() is not None:
            print(f"the worker stopped (exit {worker.returncode}); see its log", file=out)
            code = 1
            break
        if deadline is not None and loop.time() >= deadline:
            break
        if any(task.done() and task.exception() for task in tasks):
            break
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)
    stop.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for result in results:
        if isinstance(result, Exception):
            print(f"sre-streams demo: {type(result).__name__}: {result}", file=out)
            code = 1
    if view.postmortem:
        print("\npostmortem draft of the last resolved incident:\n", file=out)
        print(view.postmortem, file=out)
    else:
        print("\nno incident resolved yet: no postmortem draft", file=out)
    resolved = sum(i.status == "resolved" for i in view.incidents.values())
    mitigated = sum(i.status == "mitigated" for i in view.incidents.values())
    print(f"\nstopped: {view.sent:,} events sent, {len(view.firing)} alert(s) firing, "
          f"{len(view.incidents)} incident(s) ({resolved} resolved, {mitigated} mitigated)",
          file=out)
    return code
