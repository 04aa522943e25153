"""Runway: how long usable capacity lasts under the forecast, and what that means (status)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from streams.domain.capacity.forecast import HOURS_PER_DAY, Floats, Forecast, forecast
from streams.domain.capacity.history import HOUR, HourlySeries
from streams.domain.capacity.model import CapacityPlan, CapacityStatus

DAY = 86400.0
PEAK_NOW_HOURS = 24  # `peak_now` is the highest hourly point of the last day of history


@dataclass(frozen=True, slots=True)
class Bounds:
    p50: float | None
    p90: float | None


@dataclass(frozen=True, slots=True)
class ForecastPoint:
    at: float  # start of the hour (epoch seconds)
    p10: float
    p50: float
    p90: float


@dataclass(frozen=True, slots=True)
class Assessment:
    """A service's (or resource's) capacity at `at`: one `services` item of the report."""

    plan: CapacityPlan
    at: float
    usable_capacity: float | None
    peak_now: float | None
    growth_per_day: float | None
    runway_days: Bounds
    exhausted_at: Bounds
    status: CapacityStatus
    forecast: tuple[ForecastPoint, ...]  # the peak hour of each day of the horizon
    coverage_p10_p90: float | None
    mape: float | None
    warnings: tuple[str, ...]
    history_start: int = 0  # absolute hour of history[0]
    history: Floats = field(default_factory=lambda: np.zeros(0))  # hourly points (NaN: none)

    @property
    def urgency(self) -> tuple[int, float, float, str, str]:
        """Sort key: most urgent first (critical, warn, ok, unknown; then shortest runway)."""
        rank = {CapacityStatus.CRITICAL: 0, CapacityStatus.WARN: 1, CapacityStatus.OK: 2,
                CapacityStatus.UNKNOWN: 3}[self.status]
        far = float("inf")
        p90 = self.runway_days.p90 if self.runway_days.p90 is not None else far
        p50 = self.runway_days.p50 if self.runway_days.p50 is not None else far
        return rank, p90, p50, self.plan.service, self.plan.resource or ""


def status_for(runway_days: float | None, lead_time_days: float) -> CapacityStatus:
    """`critical` under the lead time, `warn` under twice it, else `ok` (None: lasts the horizon)."""
    if runway_days is None:
        return CapacityStatus.OK
    if runway_days < lead_time_days:
        return CapacityStatus.CRITICAL
    if runway_days < 2 * lead_time_days:
        return CapacityStatus.WARN
    return CapacityStatus.OK


def _first_crossing(values: Floats, usable: float) -> int | None:
    over = values >= usable
    return int(np.argmax(over)) if over.any() else None


def assess(plan: CapacityPlan, series: HourlySeries, at: float,
           event_capacity: float | None = None) -> Assessment:
    """Forecast from the hours of `series` that end by `at` and measure the runway.

    The status is decided by the pessimistic (p90) runway: capacity is ordered when the
    forecast's upper bound reaches it within the lead time.
    """
    end_hour = int(at // HOUR)
    origin = end_hour * HOUR
    usable = plan.usable if plan.usable is not None else event_capacity
    warnings: list[str] = []
    if usable is None:
        warnings.append("no capacity known: set capacity in the file or send it with the "
                        "resource's events")
    window = series.until(end_hour)
    horizon = int(plan.horizon // HOUR)
    if window is None or not np.isfinite(window[1]).any():
        warnings.append("no history yet")
        return Assessment(plan, origin, usable, None, None, Bounds(None, None),
                          Bounds(None, None), CapacityStatus.UNKNOWN, (), None, None,
                          tuple(warnings))
    first_hour, values = window
    result: Forecast = forecast(values, first_hour, horizon,
                                factor_at=_launch_factors(plan) if plan.launches else None)
    recent = values[-PEAK_NOW_HOURS:]
    peak_now = float(np.nanmax(recent)) if np.isfinite(recent).any() else None
    runway = Bounds(None, None)
    exhausted = Bounds(None, None)
    status = CapacityStatus.UNKNOWN
    if usable is not None:
        p50_hour = _first_crossing(result.p50, usable)
        p90_hour = _first_crossing(result.p90, usable)
        runway = Bounds(None if p50_hour is None else p50_hour / HOURS_PER_DAY,
                        None if p90_hour is None else p90_hour / HOURS_PER_DAY)
        exhausted = Bounds(None if p50_hour is None else origin + p50_hour * HOUR,
                           None if p90_hour is None else origin + p90_hour * HOUR)
        status = status_for(runway.p90, plan.lead_time / DAY)
    return Assessment(plan, origin, usable, peak_now, result.growth_per_day, runway, exhausted,
                      status, _daily_peaks(result, origin), result.backtest.coverage_p10_p90,
                      result.backtest.mape, tuple(warnings) + result.warnings, first_hour, values)


def _launch_factors(plan: CapacityPlan) -> Callable[[Floats], Floats]:
    def factors(hours: Floats) -> Floats:
        result = np.ones(len(hours))
        for launch in plan.launches:
            result[hours * HOUR >= launch.at] *= launch.factor
        return result
    return factors


def _daily_peaks(result: Forecast, origin: float) -> tuple[ForecastPoint, ...]:
    """One point a day of the horizon: the hour of the day's highest p50."""
    days = -(-len(result.p50) // HOURS_PER_DAY)
    padded = np.full(days * HOURS_PER_DAY, -np.inf)
    padded[:len(result.p50)] = result.p50
    hours = (np.argmax(padded.reshape(days, HOURS_PER_DAY), axis=1)
             + HOURS_PER_DAY * np.arange(days)).tolist()
    p10, p50, p90 = (result.p10[hours].tolist(), result.p50[hours].tolist(),
                     result.p90[hours].tolist())
    return tuple(ForecastPoint(origin + hour * HOUR, low, mid, high)
                 for hour, low, mid, high in zip(hours, p10, p50, p90, strict=True))


def ranked(assessments: Sequence[Assessment]) -> list[Assessment]:
    """Most urgent first."""
    return sorted(assessments, key=lambda a: a.urgency)
