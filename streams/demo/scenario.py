"""The demo's traffic: a day of healthy history as count events, then live request events
in real time with an outage of checkout in one region."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from aiokafka import AIOKafkaProducer

from streams.demo.view import View
from streams.domain.slo.loader import load_slo_file
from streams.domain.slo.model import SloFile
from streams.runtime.kafka.clients import client_options
from streams.runtime.settings import Settings
from streams.synthetic.traffic import Incident, Scenario, generate

HISTORY = 86400.0
OUTAGE_AFTER = 30.0
OUTAGE_FOR = 60.0


def demo_slos() -> Path:
    return Path(str(resources.files("streams") / "data" / "demo-slos.yaml"))


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


async def traffic(settings: Settings, view: View, stop: asyncio.Event) -> None:
    """Publish the history, then live traffic until `stop`."""
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
