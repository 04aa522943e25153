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
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import orjson
from aiohttp import web
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from streams.cli.render import render_alert, render_incident
from streams.domain.slo.loader import load_slo_file
from streams.domain.slo.model import SloFile
from streams.domain.timestamps import format_ts
from streams.runtime.kafka_clients import client_options, ensure_topics
from streams.runtime.lifecycle import terminate
from streams.runtime.local_broker import LocalBroker, free_port
from streams.runtime.settings import Settings
from streams.synthetic.traffic import Incident, Scenario, generate

HISTORY = 86400.0
OUTAGE_AFTER = 30.0
OUTAGE_FOR = 60.0
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


@dataclass
class View:
    """What the terminal shows: traffic, per-series burn and budget, alert transitions."""

    started: float = field(default_factory=time.monotonic)
    sent: int = 0
    live_sent: int = 0
    budgets: dict[str, dict[str, Any]] = field(default_factory=dict)
    alerts: list[str] = field(default_factory=list)
    firing: set[str] = field(default_factory=set)
    outage: str = ""
    outage_at: float | None = None  # wall-clock start of the injected outage
    incidents: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> latest event
    escalated: dict[str, float] = field(default_factory=dict)  # id -> when seen escalating
    postmortem: str | None = None  # of the last resolved incident

    def on_message(self, value: bytes) -> None:
        message = orjson.loads(value)
        if message.get("kind") == "incident":
            self.incidents[message["id"]] = message
            self.alerts.append(render_incident(message))
            if message["event"] == "escalated":
                self.escalated.setdefault(message["id"], time.monotonic())
            if message.get("postmortem"):
                self.postmortem = message["postmortem"]
        elif message.get("kind") == "budget":
            series = ",".join(f"{k}={v}" for k, v in message["series"].items())
            self.budgets[f"{message['slo']}{{{series}}}"] = message
        elif message.get("kind") == "alert":
            self.alerts.append(render_alert(message))
            series = ",".join(f"{k}={v}" for k, v in message["series"].items())
            key = f"{message['slo']}{{{series}}} {message['rule']}"
            (self.firing.add if message["status"] == "firing" else self.firing.discard)(key)

    def on_page(self, receiver: str, body: dict[str, Any]) -> None:
        """A request that reached the demo's pager or chat receiver."""
        if "event_action" in body:
            summary = (body.get("payload") or {}).get("summary", "")
            self.alerts.append(f"{'':24}  pager    {body['event_action']:<12} "
                               f"{body.get('dedup_key')} {summary}".rstrip())
        else:
            self.alerts.append(f"{'':24}  {receiver:<8} {body.get('text', '')}")

    def status(self) -> str:
        """One line: time, traffic, the outage, what fires, open incidents."""
        firing = sorted(self.firing)
        open_incidents = [f"{i['id']} {i['severity']} {i['status']}"
                          for i in self.incidents.values() if i["status"] != "resolved"]
        return (f"status {time.monotonic() - self.started:5.0f} s  events sent {self.sent:,}  "
                f"{self.outage}  firing: {', '.join(firing) or '-'}  "
                f"incidents: {', '.join(open_incidents) or '-'}")

    def render(self) -> str:
        elapsed = time.monotonic() - self.started
        lines = [f"sre-streams demo  {elapsed:5.0f} s  events sent {self.sent:,} "
                 f"(live {self.live_sent:,})  {self.outage}", ""]
        lines.append(f"{'series':<40} {'sli 1d':>8} {'burn 1m':>8} {'burn 5m':>8} "
                     f"{'budget':>8}  firing")
        for name in sorted(self.budgets):
            snap = self.budgets[name]
            rates = snap.get("burn_rates", {})
            lines.append(f"{name:<40} {snap['sli']:>8.4f} {rates.get('1m', 0):>8.1f} "
                         f"{rates.get('5m', 0):>8.1f} {100 * snap['error_budget_remaining']:>7.1f}%"
                         f"  {','.join(snap.get('firing', [])) or '-'}")
        lines += ["", "incidents:"] + ([
            f"  {i['id']}  {i['severity']}  {i['status']:<12}  escalation level "
            f"{i['escalation_level']}  {i['title']}" for i in self.incidents.values()]
            or ["  (none yet)"])
        lines += ["", "alerts, incidents, pages:"] + (self.alerts[-14:] or ["  (none yet)"])
        return "\n".join(lines)


def demo_slos() -> Path:
    return Path(str(resources.files("streams") / "data" / "demo-slos.yaml"))


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


def _history(slo_file: SloFile, end: float, rate: float) -> Iterator[dict[str, Any]]:
    """A day of healthy history as count events (one per series every 10 s), so budgets and
    long windows start full instead of empty."""
    rng = np.random.default_rng(int(end))
    per_cell = rate / 4 * 10  # 2 services x 2 regions share the rate; per 10 s
    ts = end - HISTORY
    while ts < end:
        for slo in slo_file.slos:
            cells = [{"region": "eu"}, {"region": "us"}] if slo.group_by else [{}]
            for series in cells:
                total = int(rng.poisson(per_cell * (1 if slo.group_by else 2)))
                bad = int(rng.binomial(total, 0.001))
                yield {"ts": round(ts, 3), "slo": slo.name, "good": total - bad, "total": total,
                       "series": series, "_service": slo.service}
        ts += 10.0


async def _traffic(settings: Settings, view: View, stop: asyncio.Event) -> None:
    now = time.time()
    view.outage_at = now + OUTAGE_AFTER
    rate = 150.0
    producer = AIOKafkaProducer(**client_options(settings), linger_ms=20)
    await producer.start()
    topic = settings.topics.requests
    try:
        pending: dict[bytes, list[dict[str, Any]]] = {}
        for event in _history(load_slo_file(demo_slos()), now, rate):
            if stop.is_set():
                return
            key = event.pop("_service").encode()
            group = pending.setdefault(key, [])
            group.append(event)
            view.sent += 1
            if len(group) >= 500:
                await producer.send(topic, orjson.dumps(group), key=key)
                group.clear()
        for key, group in pending.items():
            if group:
                await producer.send(topic, orjson.dumps(group), key=key)
        await producer.flush()
    finally:
        await producer.stop()
    await _live_traffic(settings, view, stop, now, rate)


async def _live_traffic(settings: Settings, view: View, stop: asyncio.Event, now: float,
                        rate: float) -> None:
    scenario = Scenario(
        start=now, duration=24 * 3600, rate=rate,
        services=("checkout", "search"), regions=("eu", "us"), base_error_rate=0.001,
        latency_median_ms=60, latency_p99_ms=300, seed=int(now),
        incidents=(Incident("outage", OUTAGE_AFTER, OUTAGE_FOR, service="checkout",
                            region="eu"),),
    )
    producer = AIOKafkaProducer(**client_options(settings), linger_ms=20)
    await producer.start()
    topic = settings.topics.requests
    try:
        batch: dict[bytes, list[dict[str, Any]]] = {}
        live = False
        for event in generate(scenario):
            if stop.is_set():
                break
            ts = float(event["ts"])
            if ts > time.time():
                for key, events in batch.items():
                    await producer.send(topic, orjson.dumps(events), key=key)
                batch.clear()
                live = True
                while ts > time.time() and not stop.is_set():
                    await asyncio.sleep(0.05)
            batch.setdefault(event["service"].encode(), []).append(dict(event))
            view.sent += 1
            view.live_sent += live
            if len(batch[event["service"].encode()]) >= 500:
                for key, events in batch.items():
                    await producer.send(topic, orjson.dumps(events), key=key)
                batch.clear()
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


async def _screen(view: View, out: TextIO, stop: asyncio.Event, tty: bool) -> None:
    last = ""
    shown_alerts = 0
    next_status = 0.0
    while not stop.is_set():
        remaining = (view.outage_at or time.time() + OUTAGE_AFTER) - time.time()
        if remaining > 0:
            view.outage = f"outage of checkout/eu in {remaining:.0f} s"
        elif remaining > -OUTAGE_FOR:
            view.outage = f"OUTAGE of checkout/eu, {-remaining:.0f} s in"
        else:
            view.outage = "outage over"
        if tty:
            screen = view.render()
            if screen != last:
                out.write("\x1b[H\x1b[2J" + screen + "\n")
                out.flush()
                last = screen
        else:
            # Not a terminal (a pipe, a log): a status line now and then, and every alert.
            if view.budgets and time.monotonic() >= next_status:
                print(view.status(), file=out, flush=True)
                next_status = time.monotonic() + 15
            for line in view.alerts[shown_alerts:]:
                print(line, file=out, flush=True)
            shown_alerts = len(view.alerts)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)
    if not tty:
        for line in view.alerts[shown_alerts:]:
            print(line, file=out, flush=True)


def _start_worker(settings: Settings, workdir: Path, slos: Path,
                  api_port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SRE_BROKER": settings.broker, "SRE_SLOS": str(slos),
           "SRE_API_HOST": "127.0.0.1", "SRE_API_PORT": str(api_port),
           "SRE_API_URL": f"http://127.0.0.1:{api_port}",
           "SRE_DATA_DIR": str(workdir / "data"), "SRE_APP_ID": settings.app_id,
           "SRE_BUDGET_INTERVAL": "10s", "SRE_IDLE_TIMEOUT": "5s",
           "SRE_TOPIC_PREFIX": settings.topic_prefix}
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
            settings = Settings.load({"broker": broker.url, "app_id": settings.app_id,
                                      "topic_prefix": settings.topic_prefix})
        print(f"broker {settings.broker}; starting the worker (log: {workdir / 'worker.log'}) ...",
              file=out, flush=True)
        topics = settings.topics
        asyncio.run(ensure_topics(settings, [topics.requests, topics.alerts, topics.budgets,
                                             topics.dead_letter, topics.incidents,
                                             topics.commands, topics.deploys]))
        port, api_port = free_port(), free_port()
        worker = _start_worker(settings, workdir,
                               write_demo_slos(workdir, f"http://127.0.0.1:{port}"), api_port)
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
    view = View()
    tasks = [asyncio.create_task(coro) for coro in (
        _traffic(settings, view, stop), _watch(settings, view, stop), _screen(view, out, stop, tty),
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
    resolved = sum(i["status"] == "resolved" for i in view.incidents.values())
    print(f"\nstopped: {view.sent:,} events sent, {len(view.firing)} alert(s) firing, "
          f"{len(view.incidents)} incident(s) ({resolved} resolved)", file=out)
    return code
