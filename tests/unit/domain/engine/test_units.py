"""The engine's units driven directly: series registry, rule maths, messages, checkpoint state."""

from __future__ import annotations

import math

import pytest

from streams.domain.engine.clock import EventClock
from streams.domain.engine.counters import plan_for
from streams.domain.engine.messages import alert_message, budget_message
from streams.domain.engine.rules import Transition, both_windows_trip, evaluate_rules
from streams.domain.engine.series import Series, SeriesRegistry, SloRuntime
from streams.domain.engine.state import encode_clock, encode_series, restore_clock, restore_series
from streams.domain.slo.loader import parse_slo_text

E = 10.0  # evaluation interval, seconds
SLOS = parse_slo_text("""
apiVersion: sre-streams/v1
slos:
  - {name: web, service: web, objective: 0.9, window: 2h, alerting: quick,
     sli: {availability: {}}, group_by: [region], max_series: 2, labels: {team: core}}
  - {name: calm, service: web, objective: 0.9, window: 2h, alerting: calm,
     sli: {availability: {}}}
alerting:
  quick: [{name: fast, severity: page, long: 10m, short: 1m, budget_percent: 20}]
  calm: [{name: fast, severity: page, long: 10m, short: 1m, budget_percent: 20,
          keep_firing_for: 2m}]
""")

def registry() -> SeriesRegistry:
    return SeriesRegistry([SloRuntime(slo, i, plan_for(slo, E))
                           for i, slo in enumerate(SLOS.slos)])


def series_with(runtime_index: int, good: int, total: int, instant: int = 100) -> Series:
    """A series whose every window holds `good` of `total` events at `instant`."""
    reg = registry()
    series = reg.new_series(reg.runtimes[runtime_index], ("eu",) if runtime_index == 0 else ())
    series.counters.start(instant - 1)
    series.counters.add(instant, good, total)
    series.counters.advance(instant)
    return series


def test_the_registry_orders_series_by_slo_then_key_whatever_the_arrival() -> None:
    reg = registry()
    web, calm = reg.runtimes
    reg.new_series(calm, ())
    reg.new_series(web, ("us",))
    reg.new_series(web, ("eu",))
    assert [(s.slo.name, s.key) for s in reg.all] == [("web", ("eu",)), ("web", ("us",)),
                                                      ("calm", ())]


def test_series_beyond_max_series_count_into_the_overflow_series() -> None:
    reg = registry()
    web = reg.runtimes[0]
    reg.new_series(web, ("eu",))
    reg.new_series(web, ("us",))
    overflow = reg.new_series(web, ("asia",))
    assert overflow.key == ("__other__",)
    assert reg.new_series(web, ("africa",)) is overflow


def test_both_windows_trip_exactly_at_the_threshold() -> None:
    spec = registry().runtimes[0].rules[0]  # factor 0.2 * 2h / 10m = 2.4: 24% bad
    good = [0] * 3
    total = [0] * 3
    for w in range(3):
        good[w], total[w] = 76, 100
    assert both_windows_trip(good, total, spec, spec.num, spec.den)
    good[spec.short] = 77
    assert not both_windows_trip(good, total, spec, spec.num, spec.den)


def test_no_events_never_trip() -> None:
    spec = registry().runtimes[0].rules[0]
    assert not both_windows_trip([0, 0, 0], [0, 0, 0], spec, spec.num, spec.den)


def test_a_burning_series_fires_then_resolves() -> None:
    series = series_with(0, good=0, total=100)
    transitions, changed = evaluate_rules(series, 1000.0)
    assert list(transitions) == [Transition(0, True, 1000.0, 1000.0)]
    assert changed and series.started == [1000.0]
    assert evaluate_rules(series, 1010.0) == ((), False)
    series.counters.add(102, 100_000, 100_000)
    series.counters.advance(102)
    transitions, changed = evaluate_rules(series, 1020.0)
    assert list(transitions) == [Transition(0, False, 1000.0, None)]
    assert changed and series.started == [None]


def test_keep_firing_for_holds_a_rule_after_the_burn_stops() -> None:
    series = series_with(1, good=0, total=100)
    evaluate_rules(series, 1000.0)
    series.counters.add(102, 100_000, 100_000)
    series.counters.advance(102)
    assert evaluate_rules(series, 1020.0) == ((), True), "the release starts"
    assert series.clear == [1020.0]
    assert evaluate_rules(series, 1130.0) == ((), False), "still within 2 minutes"
    transitions, _ = evaluate_rules(series, 1140.0)
    assert [t.firing for t in transitions] == [False]


def test_the_alert_message_of_a_transition() -> None:
    series = series_with(0, good=0, total=100)
    transitions, _ = evaluate_rules(series, 1000.0)
    alert = alert_message(series, transitions[0], 1000.0)
    assert alert.status == "firing"
    assert alert.series == {"region": "eu"}
    assert alert.burn_rate_long == pytest.approx(10.0)
    assert alert.error_budget_remaining == pytest.approx(-9.0)
    assert alert.burning_since == alert.at == "1970-01-01T00:16:40.000Z"


def test_the_budget_message_names_the_firing_rules() -> None:
    series = series_with(0, good=50, total=100)
    evaluate_rules(series, 1000.0)
    budget = budget_message(series, 1000.0)
    assert budget.good == 50 and budget.total == 100
    assert budget.firing == ["fast"]
    assert budget.labels == {"team": "core"}


def test_the_checkpoint_state_round_trips() -> None:
    series = series_with(0, good=50, total=100)
    evaluate_rules(series, 1000.0)
    clock = EventClock(E, 5.0)
    clock.instant, clock.next, clock.max_ts, clock.min_ts = 100, 101, 1004.0, 990.0
    again = EventClock(E, 5.0)
    restore_clock(again, encode_clock(clock))
    assert (again.instant, again.next, again.max_ts, again.min_ts) == (100, 101, 1004.0, 990.0)
    reg = registry()
    assert restore_series(reg, [encode_series(series)], 100) == []
    [restored] = reg.all
    assert encode_series(restored) == encode_series(series)


def test_a_clock_before_any_event_round_trips() -> None:
    again = EventClock(E, 5.0)
    restore_clock(again, encode_clock(EventClock(E, 5.0)))
    assert (again.instant, again.next, again.max_ts, again.min_ts) == (None, None, -math.inf,
                                                                       math.inf)
