"""alert_after (OpenSLO's alertAfter): a rule fires only once its trip has held that long."""

from __future__ import annotations

from tests.unit.domain.engine.test_evaluation import (
    FLAPPY,
    HOUR,
    MINUTE,
    T,
    counts,
    engine_for,
    outage,
    run,
    transitions,
)


def page_fast(extra: str, bad: tuple[float, float]) -> dict[tuple[str, str], float]:
    engine = engine_for(FLAPPY % {"extra": extra})
    return transitions(run(engine, counts(T - HOUR, T + 2 * HOUR, outage(*bad))))


def test_a_total_outage_fires_alert_after_later_and_resolves_as_before() -> None:
    plain = page_fast("", (T, T + HOUR))
    late = page_fast(", alert_after: 5m", (T, T + HOUR))
    assert plain[("page-fast", "firing")] == T + 60  # 1.44% of an hour, on the 10 s grid
    # the trip first holds at T+60: it has held 5 minutes at T+360
    assert late[("page-fast", "firing")] == T + 60 + 5 * MINUTE
    assert late[("page-fast", "resolved")] == plain[("page-fast", "resolved")]


def test_a_trip_shorter_than_alert_after_never_fires() -> None:
    # Two minutes of total outage: page-fast trips at T+60 and its short window (5m) holds
    # the burn for five minutes more; with alert_after 10m it never fires.
    assert ("page-fast", "firing") in page_fast("", (T, T + 2 * MINUTE))
    assert page_fast(", alert_after: 10m", (T, T + 2 * MINUTE)) == {}
