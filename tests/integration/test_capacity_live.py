"""Capacity planning in a live worker on the bundled broker: hourly capacity events, the API,
and the demand history through SIGKILL and restart."""

from __future__ import annotations

import asyncio
import io
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from streams.domain.capacity.messages import capacity_event
from streams.domain.slo.loader import load_slo_file
from streams.domain.timestamps import format_ts, parse_ts
from streams.offline.capacity import run_capacity
from streams.runtime.kafka.clients import client_options
from streams.synthetic.demand import generate_counts
from streams.synthetic.traffic import Scenario
from streams.wire.codec import encode
from tests.conftest import assert_valid
from tests.integration.conftest import Live, kill, wait_for

pytestmark = pytest.mark.integration
START = parse_ts("2026-11-02T00:00:00Z")
DAYS = 3
SLOS = """
apiVersion: sre-streams/v1
slos:
  - {name: checkout-availability, service: checkout, objective: 0.999, sli: {availability: {}}}
  - {name: search-availability, service: search, objective: 0.999, sli: {availability: {}}}
capacity:
  - {service: checkout, per_instance: 10, instances: 14, lead_time: 30d}
  - {service: search, per_instance: 10, instances: 80, lead_time: 7d}
  - {service: search, resource: disk, unit: GB, lead_time: 14d}
"""
# search's disk: 500 GB growing 10 GB a day, of 2000 (its events say), one event an hour
DISK = [{"ts": START + h * 3600 + 1800, "service": "search", "resource": "disk",
         "used": 500.0 + 10.0 * h / 24, "capacity": 2000.0} for h in range(DAYS * 24)]
BAD_DISK = [{"ts": START, "service": "search", "resource": "disk", "used": -1.0},
            {"ts": START, "service": "search", "resource": "disk", "used": 1.0, "size": 3}]


def send_keyed(live: Live, topic: str, messages: list[dict[str, object]]) -> None:
    """Messages keyed by their service, as a producer of resource events keys them."""
    async def run() -> None:
        producer = AIOKafkaProducer(**client_options(live.settings))
        await producer.start()
        try:
            for message in messages:
                await producer.send_and_wait(topic, orjson.dumps(message),
                                             key=str(message["service"]).encode())
        finally:
            await producer.stop()

    asyncio.run(run())


def events_file(tmp_path: Path) -> tuple[Path, Path, Path]:
    """Three days of per-minute count events, checkout growing 5% of its base a day (it
    reaches its 120 requests/s within the lead time: critical), search the same against more
    instances (ok); cut at 2.5 days."""
    scenario = Scenario(start=START, duration=DAYS * 86400.0, rate=100.0,
                        services=("checkout", "search"), regions=("eu",), seasonality=0.3,
                        growth=0.05, seed=4)
    counts = list(generate_counts(scenario, "{service}-availability"))
    lines = [orjson.dumps(e) for e in counts]
    cut = len(lines) * 5 // 6
    whole, first, rest = (tmp_path / f"{n}.jsonl" for n in ("whole", "first", "rest"))
    # what the worker reads from both topics, in time order: for `sre-streams capacity`
    every = sorted([*counts, *DISK], key=lambda e: float(e["ts"]))  # type: ignore[arg-type]
    whole.write_bytes(b"\n".join(orjson.dumps(e) for e in every) + b"\n")
    first.write_bytes(b"\n".join(lines[:cut]) + b"\n")
    rest.write_bytes(b"\n".join(lines[cut:]) + b"\n")
    return whole, first, rest


PLANS = {("checkout", None), ("search", None), ("search", "disk")}


def capacity_events(live: Live, at: str) -> Callable[[list[dict[str, object]]], bool]:
    """Whether every plan has its event of `at` (the services live on different partitions)."""
    return lambda messages: {(m["service"], m["resource"]) for m in messages
                             if m.get("at") == at} == PLANS


def test_capacity_events_and_the_history_through_a_kill(
        live_factory: Callable[..., Live], tmp_path: Path) -> None:
    slos = tmp_path / "slos.yaml"
    slos.write_text(SLOS)
    # Event time only: an idle partition must not move it with the clock.
    live = live_factory(slos, SRE_IDLE_TIMEOUT="1h")
    whole, first, rest = events_file(tmp_path)
    topic = live.settings.topics.capacity
    live.start_worker()
    # The disk's events first (their hours close with search's event time), the bad ones last:
    # once those are dead-lettered, the good ones are counted.
    send_keyed(live, live.settings.topics.resources, DISK + BAD_DISK)
    dead = live.collect(live.settings.topics.dead_letter, lambda m: len(m) >= 2, timeout=30)
    assert [(d["topic"], d["reason"]) for d in dead] == [
        (live.settings.topics.resources, "invalid resource event: used must be a finite number >= 0"),
        (live.settings.topics.resources, "invalid resource event: unknown key 'size'")]
    done = live.cli("produce", "--events", str(first), "--batch", "50", "--quiet")
    assert done.returncode == 0, done.stderr
    last_first = max(orjson.loads(line)["ts"] for line in first.read_bytes().splitlines())
    hour_first = format_ts((last_first - 5) // 3600 * 3600)
    before = live.collect(topic, capacity_events(live, hour_first), timeout=60)
    assert capacity_events(live, hour_first)(before), live.logs()
    for message in before:
        assert_valid("sre.capacity", message)
    def served_now() -> dict[str, Any]:
        with urllib.request.urlopen(f"{live.api['w1']}/v1/capacity", timeout=5) as answer:
            return orjson.loads(answer.read())  # type: ignore[no-any-return]

    # The leader serves what it read back from sre.capacity: the same events, a moment later.
    wait_for(lambda: served_now()["at"] == hour_first, 30, live, "the leader to read them")
    served = served_now()
    assert_valid("capacity-report", served)
    assert [(s["service"], s["resource"], s["status"]) for s in served["services"]] == [
        ("checkout", None, "critical"), ("search", None, "ok"), ("search", "disk", "ok")]
    with urllib.request.urlopen(f"{live.api['w1']}/metrics", timeout=5) as answer:
        metrics = answer.read().decode()
    checkout = served["services"][0]
    assert (f'sre_capacity_runway_days{{bound="p90",resource="",service="checkout"}} '
            f'{checkout["runway_days"]["p90"]}') in metrics
    assert 'sre_capacity_usable{resource="",service="search"} 780.0' in metrics

    kill(live, 0)
    live.start_worker()
    done = live.cli("produce", "--events", str(rest), "--batch", "50", "--quiet")
    assert done.returncode == 0, done.stderr
    hour_last = format_ts((START + DAYS * 86400 - 5) // 3600 * 3600)
    after = live.collect(topic, capacity_events(live, hour_last), timeout=60)
    final = {(m["service"], m["resource"]): m for m in after if m["at"] == hour_last}
    assert set(final) == {("checkout", None), ("search", None), ("search", "disk")}, live.logs()
    # The restarted worker went on from its checkpoint: it did not read the first part again
    # (which would have rebuilt the history, and published its first hours once more); the
    # step in hand at the kill may be published twice, identically (at least once).
    def canonical(messages: list[dict[str, object]]) -> set[bytes]:
        return {orjson.dumps(m, option=orjson.OPT_SORT_KEYS) for m in messages}

    assert canonical([m for m in after if m["at"] <= hour_first]) == canonical(before)
    first_hour = min(str(m["at"]) for m in before)
    assert sum(m["at"] == first_hour for m in after) == sum(m["at"] == first_hour for m in before)

    # The history survived the kill: the forecast equals the one of an uninterrupted read.
    offline = run_capacity(load_slo_file(slos), whole, at=parse_ts(hour_last), lateness=5.0,
                           stderr=io.StringIO())
    for assessment in offline.assessments:
        expected = orjson.loads(encode(capacity_event(assessment)))
        assert final[assessment.plan.key] == expected
    assert final[("checkout", None)]["status"] == "critical"
    assert final[("search", "disk")]["usable_capacity"] == 2000.0

    # checkout turned critical once: one ticket incident, not reopened by the restart
    def opened(messages: list[dict[str, object]]) -> list[dict[str, object]]:
        return [m for m in messages if m["event"] == "opened"]

    incidents = live.collect(live.settings.topics.incidents, lambda m: bool(opened(m)), timeout=30)
    assert [(m["slo"], m["service"], m["severity"], m["series"]) for m in opened(incidents)] == [
        ("capacity", "checkout", "P3", {"service": "checkout", "resource": "requests"})], (
        [(m["id"], m["at"]) for m in opened(incidents)], live.logs())
    assert opened(incidents)[0]["title"] == (
        "capacity {service=checkout,resource=requests}: capacity runway under the lead time")
    alerts = [m for m in live.collect(live.settings.topics.alerts, bool, timeout=10)
              if m["rule"] == "capacity-runway"]
    assert [(a["status"], a["service"]) for a in alerts] == [("firing", "checkout")]
