"""Capacity events as the workers publish them, for the API, metrics and page tests."""

from __future__ import annotations

from streams.wire.capacity import BacktestScore, Bounds, CapacityEvent, TimeBounds


def event(service: str, status: str, p50: float | None, p90: float | None,
          resource: str | None = None, usable: float | None = 100.0) -> CapacityEvent:
    return CapacityEvent(
        at="2026-12-01T10:00:00.000Z", service=service, resource=resource, unit="requests/s",
        usable_capacity=usable, peak_now=50.0, growth_per_day=0.01,
        runway_days=Bounds(p50=p50, p90=p90), exhausted_at=TimeBounds(p50=None, p90=None),
        lead_time_days=30.0, status=status, forecast=[],  # type: ignore[arg-type]
        backtest=BacktestScore(coverage_p10_p90=0.8, mape=0.05), warnings=[])


EVENTS = [event("search", "ok", None, None), event("checkout", "critical", 12.0, 9.5),
          event("catalog", "warn", 50.0, 40.0), event("search", "unknown", None, None, "disk", None)]
