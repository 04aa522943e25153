"""Assessments as wire messages: a report's `services` item and the `sre.capacity` event."""

from __future__ import annotations

from collections.abc import Sequence

from streams.domain.capacity.runway import DAY, Assessment
from streams.domain.timestamps import format_ts
from streams.wire.capacity import (
    BacktestScore,
    Bounds,
    CapacityEvent,
    CapacityReport,
    ForecastPoint,
    ServiceCapacity,
    TimeBounds,
)

_DIGITS = 6  # figures are rounded: a forecast is not more exact than this


def _round(value: float | None, digits: int = _DIGITS) -> float | None:
    return None if value is None else round(float(value), digits)


def _fields(assessment: Assessment) -> dict[str, object]:
    plan = assessment.plan
    return {
        "service": plan.service,
        "resource": plan.resource,
        "unit": plan.unit,
        "usable_capacity": _round(assessment.usable_capacity),
        "peak_now": _round(assessment.peak_now),
        "growth_per_day": _round(assessment.growth_per_day),
        "runway_days": Bounds(p50=_round(assessment.runway_days.p50, 3),
                              p90=_round(assessment.runway_days.p90, 3)),
        "exhausted_at": TimeBounds(
            p50=None if assessment.exhausted_at.p50 is None else format_ts(assessment.exhausted_at.p50),
            p90=None if assessment.exhausted_at.p90 is None else format_ts(assessment.exhausted_at.p90)),
        "lead_time_days": round(plan.lead_time / DAY, 6),
        "status": assessment.status.value,
        "forecast": [ForecastPoint(at=format_ts(p.at), p10=round(p.p10, _DIGITS),
                                   p50=round(p.p50, _DIGITS), p90=round(p.p90, _DIGITS))
                     for p in assessment.forecast],
        "backtest": BacktestScore(coverage_p10_p90=_round(assessment.coverage_p10_p90, 4),
                                  mape=_round(assessment.mape, 4)),
        "warnings": list(assessment.warnings),
    }


def service_capacity(assessment: Assessment) -> ServiceCapacity:
    return ServiceCapacity(**_fields(assessment))  # type: ignore[arg-type]


def capacity_event(assessment: Assessment) -> CapacityEvent:
    return CapacityEvent(at=format_ts(assessment.at), **_fields(assessment))  # type: ignore[arg-type]


def capacity_report(at: float, assessments: Sequence[Assessment]) -> CapacityReport:
    """The report of `assessments`, in the order given (rank them first)."""
    return CapacityReport(at=format_ts(at), services=[service_capacity(a) for a in assessments])
