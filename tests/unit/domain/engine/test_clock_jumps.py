"""Moving the event clock across a span with nothing to evaluate costs O(series), not O(instants).

The shortcut is pinned to the plain path: an engine that evaluates every instant one by one
publishes exactly the same alerts and budget snapshots.
"""

from __future__ import annotations

import random
import time

import pytest

from streams.domain.engine.evaluation import Engine, EngineSettings
from streams.domain.slo.loader import parse_slo_text

DAY = 86400
SLOS = parse_slo_text("""
apiVersion: sre-streams/v1
defaults: {window: 1d, alerting: fast}
slos:
  - name: api
    service: api
    objective: 0.99
    sli: {availability: {}}
    group_by: [region]
  - name: lb
    service: lb
    objective: 0.995
    sli: {availability: {}}
alerting:
  fast:
    - {name: page, severity: page, long: 1h, short: 10m, budget_percent: 2}
    - {name: ticket, severity: ticket, long: 6h, short: 1h, budget_percent: 10}
""")
NOW = 1_796_155_454.0


def test_a_jump_of_decades_with_no_series_is_immediate() -> None:
    engine = Engine(SLOS, EngineSettings())
    started = time.monotonic()
    engine.ingest({"ts": 946_684_800, "service": "no-slo", "status": 200})
    engine.ingest({"ts": NOW, "service": "no-slo", "status": 200})
    assert time.monotonic() - started < 1
    # every instant passed counts as evaluated, as it did when each was walked
    assert engine.stats.evaluations == int((NOW - 5) // 10) - 946_684_800 // 10 + 1
    assert engine.drain() == ([], [])


def test_a_series_is_evaluated_while_its_windows_hold_data_then_the_clock_jumps() -> None:
    engine = Engine(SLOS, EngineSettings())
    engine.ingest({"ts": NOW - 400 * DAY, "service": "lb", "status": 500})
    started = time.monotonic()
    engine.ingest({"ts": NOW, "service": "lb", "status": 200})
    assert time.monotonic() - started < 5
    alerts, budgets = engine.drain()
    # one a minute while the 1-day period (buckets of 1/100 of it) holds the error, then none
    assert DAY // 60 - DAY // 100 // 60 <= len(budgets) <= DAY // 60
    fired = [alert.rule for alert in alerts if alert.status == "firing"]
    assert fired and sorted(fired) == sorted(a.rule for a in alerts if a.status == "resolved")


def _sparse_events(seed: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    ts = NOW - 10 * DAY
    events: list[dict[str, object]] = []
    for _ in range(300):
        # bursts of traffic separated by gaps from seconds to weeks
        ts += rng.choice([1, 5, 30, 600, 3 * 3600, DAY, 3 * DAY]) * rng.random()
        service = rng.choice(["api", "lb", "other"])
        events.append({"ts": round(ts, 3), "service": service, "region": rng.choice("ab"),
                       "status": 500 if rng.random() < 0.3 else 200})
    return events


def _walked(engine: Engine) -> Engine:
    """The same engine evaluating every instant one by one (the shortcut disabled)."""
    engine._skip_to = lambda upcoming, watermark: None  # type: ignore[method-assign]
    return engine


@pytest.mark.parametrize("seed", range(3))
def test_jumping_equals_walking_every_instant(seed: int) -> None:
    # a long lateness keeps data waiting several instants ahead of the watermark
    settings = EngineSettings(eval_interval=60.0, lateness=900.0, budget_interval=600.0)
    jumping, walking = Engine(SLOS, settings), _walked(Engine(SLOS, settings))
    for event in _sparse_events(seed):
        jumping.ingest(event)
        walking.ingest(event)
    jumping.finish()
    walking.finish()
    assert jumping.drain() == walking.drain()
    assert jumping.stats.evaluations == walking.stats.evaluations
    assert jumping.checkpoint_meta() == walking.checkpoint_meta()
    assert [Engine.series_state(s) for s in jumping.series] == \
        [Engine.series_state(s) for s in walking.series]


@pytest.mark.parametrize("ts", [0, -5, 1e300])
def test_an_event_stamped_out_of_range_is_refused_whichever_path_reads_it(ts: float) -> None:
    engine = Engine(SLOS, EngineSettings())
    batch = [{"ts": NOW, "service": "api", "region": "a", "status": 200}] * 300
    batch = [*batch, {"ts": ts, "service": "api", "region": "a", "status": 200}]
    assert engine.ingest_batch(batch) == [(300, "invalid ts: ts out of range (years 2000 to 9999)")]
    assert engine.time_range == (NOW, NOW)
