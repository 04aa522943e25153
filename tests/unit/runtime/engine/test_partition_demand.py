"""Capacity in the partition processor: a capacity event per hour of event time, demand kept
in the checkpoint, and the forecast after a restart equal to the uninterrupted one and to
`sre-streams capacity` on the same events."""

from __future__ import annotations

import io
import time
from pathlib import Path

import orjson
import pytest

from streams.domain.capacity.history import meter_state
from streams.domain.capacity.messages import capacity_event
from streams.domain.engine.evaluation import EngineSettings
from streams.domain.slo.loader import parse_slo_text
from streams.domain.timestamps import format_ts, parse_ts
from streams.offline.capacity import run_capacity
from streams.runtime.engine.demand import PartitionDemand
from streams.runtime.engine.partition import PartitionProcessor
from streams.synthetic.demand import generate_counts
from streams.synthetic.traffic import Scenario
from streams.wire.codec import encode

START = parse_ts("2026-11-02T00:00:00Z")
SLOS = parse_slo_text("""
apiVersion: sre-streams/v1
slos:
  - {name: checkout-availability, service: checkout, objective: 0.999, sli: {availability: {}}}
capacity:
  - {service: checkout, per_instance: 10, instances: 12, lead_time: 30d}
  - {service: search, per_instance: 10, instances: 12, lead_time: 30d}
""")


@pytest.fixture(scope="module")
def messages() -> list[tuple[int, bytes | None]]:
    scenario = Scenario(start=START, duration=4 * 86400.0, rate=60.0, services=("checkout",),
                        regions=("eu",), seasonality=0.3, growth=0.05, seed=2)
    events = list(generate_counts(scenario, "{service}-availability"))
    return list(enumerate(orjson.dumps(events[i:i + 30]) for i in range(0, len(events), 30)))


def processor() -> PartitionProcessor:
    return PartitionProcessor(SLOS, EngineSettings(), "requests", 0, 1 << 20, 1e12)


def test_each_closed_hour_makes_a_capacity_event_of_the_partition_s_services(
        messages: list[tuple[int, bytes | None]]) -> None:
    out = processor().process(messages[:60], time.time())  # 1,800 minutes: 30 hours closed
    assert [e.at for e in out.capacity] == [format_ts(START + 29 * 3600)]  # the last one
    (event,) = out.capacity  # search has no events here: not this partition's
    assert event.service == "checkout" and event.usable_capacity == 100.0


def test_after_a_restart_the_next_forecast_equals_the_uninterrupted_one(
        messages: list[tuple[int, bytes | None]], tmp_path: Path) -> None:
    now = time.time()
    cut = len(messages) // 2
    whole = processor()
    whole.process(messages[:cut], now)
    expected = whole.process(messages[cut:], now).capacity

    first = processor()
    first.process(messages[:cut], now)
    table: dict[bytes, bytes | None] = {}
    checkpoint = first.checkpoint([])
    assert checkpoint is not None
    table.update(checkpoint.messages())
    second = processor()
    second.restore(table.items())
    got = second.process(messages[cut:], now).capacity
    assert [encode(e) for e in got] == [encode(e) for e in expected]

    # and `sre-streams capacity` on the same events, as of the same hour, says the same
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"".join(raw + b"\n" for _, raw in messages if raw is not None))
    offline = run_capacity(SLOS, events, at=parse_ts(expected[-1].at), lateness=5.0,
                           stderr=io.StringIO())
    checkout = next(a for a in offline.assessments if a.plan.service == "checkout")
    assert encode(capacity_event(checkout)) == encode(expected[-1])


def test_without_a_capacity_section_nothing_is_metered() -> None:
    slos = parse_slo_text("""
apiVersion: sre-streams/v1
slos:
  - {name: checkout-availability, service: checkout, objective: 0.999, sli: {availability: {}}}
""")
    proc = PartitionProcessor(slos, EngineSettings(), "requests", 0, 1 << 20, 1e12)
    assert proc.demand is None
    out = proc.process([(0, b'{"ts": 1800000000, "service": "checkout", "status": 200}')],
                       time.time())
    assert out.capacity == []


RESOURCE_SLOS = parse_slo_text("""
apiVersion: sre-streams/v1
slos:
  - {name: search-availability, service: search, objective: 0.999, sli: {availability: {}}}
capacity:
  - {service: search, resource: disk, lead_time: 14d}
""")


def test_resource_events_count_their_hourly_maximum_and_bad_ones_are_dead_lettered() -> None:
    proc = PartitionProcessor(RESOURCE_SLOS, EngineSettings(), "requests", 0, 1 << 20, 60.0)
    now = START + 10 * 86400
    good = [{"ts": START + h * 3600 + m * 600, "service": "search", "resource": "disk",
             "used": 100.0 + h + m, "capacity": 500.0} for h in range(48) for m in range(6)]
    records = [(i, orjson.dumps(e)) for i, e in enumerate(good)]
    records += [(1000, b'{"ts": 1800000000, "service": "search", "resource": "disk"}'),
                (1001, b'[{"ts": "soon", "service": "search", "resource": "disk", "used": 1}]'),
                (1002, orjson.dumps({"ts": now + 3600, "service": "search", "resource": "disk",
                                     "used": 1})),
                (1003, b"not json")]
    out = proc.process_resources("sre.resources", records, now)
    assert [(d.offset, d.reason.split(":")[0]) for d in out.dead_letters] == [
        (1003, "invalid JSON"), (1000, "invalid resource event"), (1001, "invalid ts"),
        (1002, "timestamp in the future")]
    assert out.capacity == []  # no request events yet: the partition's event time stands still
    # the search service's count events move event time on: 47 hours close
    counts = [(2000 + m, orjson.dumps({"ts": START + (m + 1) * 60, "slo": "search-availability",
                                       "good": 5, "total": 5})) for m in range(48 * 60)]
    out = proc.process(counts, now)
    (event,) = out.capacity
    assert event.resource == "disk" and event.usable_capacity == 500.0
    assert event.peak_now == 100.0 + 46 + 5  # the largest `used` of the last closed hour


def test_request_events_are_metered_off_the_typed_columns_as_off_their_dicts(
        monkeypatch: pytest.MonkeyPatch) -> None:
    events = [{"ts": START + i * 7.3, "service": ("checkout", "search", "other")[i % 3],
               "status": 200, "latency_ms": 5.0} for i in range(3000)]  # 6 hours
    values = [orjson.dumps(events[i:i + 100]) for i in range(0, len(events), 100)]
    direct = PartitionDemand(SLOS)
    direct.feed(events, set())  # as dicts, before the dict path is closed below
    as_dicts: list[int] = []
    monkeypatch.setattr(PartitionDemand, "feed",
                        lambda self, run, refused: as_dicts.append(len(run)))
    proc = processor()
    out = proc.process(list(enumerate(values)), time.time())
    assert proc.demand is not None and not as_dicts, "metered off the typed columns"
    closed, _ = direct.advance(proc.engine.watermark)
    assert out.capacity == closed and len(closed) == 2  # checkout and search; other unplanned
    assert meter_state(proc.demand.meter) == meter_state(direct.meter)
