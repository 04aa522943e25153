"""The capacity-runway ticket: fires when a service turns critical, resolves when it leaves."""

from __future__ import annotations

import msgspec

from streams.domain.capacity.alerts import RULE, runway_alert
from streams.wire.capacity import BacktestScore, Bounds, CapacityEvent, TimeBounds
from tests.conftest import assert_valid


def event(at: str, status: str, p90: float | None) -> CapacityEvent:
    return CapacityEvent(
        at=at, service="checkout", resource=None, unit="requests/s", usable_capacity=100.0,
        peak_now=80.0, growth_per_day=0.01, runway_days=Bounds(p50=p90, p90=p90),
        exhausted_at=TimeBounds(p50=None, p90=None), lead_time_days=30.0,
        status=status, forecast=[], backtest=BacktestScore(coverage_p10_p90=None, mape=None),  # type: ignore[arg-type]
        warnings=[])


def test_a_ticket_fires_on_critical_once_and_resolves_when_it_leaves() -> None:
    since = None
    made = []
    for at, status, p90 in [("2026-12-01T10:00:00.000Z", "warn", 40.0),
                            ("2026-12-01T11:00:00.000Z", "critical", 29.0),
                            ("2026-12-01T12:00:00.000Z", "critical", 28.9),
                            ("2026-12-01T13:00:00.000Z", "ok", None)]:
        alert, since = runway_alert(event(at, status, p90), 90.0, since)
        if alert is not None:
            made.append(alert)
            assert_valid("alert", msgspec.to_builtins(alert))
    firing, resolved = made
    assert (firing.status, firing.rule, firing.severity, firing.at) == (
        "firing", RULE, "ticket", "2026-12-01T11:00:00.000Z")
    assert firing.burn_rate_long == 29.0 and firing.threshold == 30.0
    assert (resolved.status, resolved.started_at, resolved.id) == (
        "resolved", "2026-12-01T11:00:00.000Z", firing.id)
    assert resolved.burn_rate_long == 90.0  # lasts the horizon
    assert firing.series == {"service": "checkout", "resource": "requests"}
    assert since is None

