"""Forecast and runway against demand whose crossing of capacity is known (issue acceptance)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from streams.domain.capacity.forecast import forecast
from streams.domain.capacity.history import DemandMeter, HourlySeries
from streams.domain.capacity.model import CapacityPlan, CapacityStatus, Launch
from streams.domain.capacity.runway import assess, ranked, status_for

T0 = 1_795_478_400  # 2026-11-24T00:00:00Z, a Monday
HOUR, DAY, WEEK = 3600, 86400, 7 * 86400
BASE = 1000.0  # requests/s


def rate(t: np.ndarray, growth: float, daily: float = 0.3, weekly: float = 0.1) -> np.ndarray:
    """Requests/s at epoch seconds `t`: linear growth times daily and weekly seasonality."""
    days = (t - T0) / DAY
    return (BASE * (1 + growth * days) * (1 + daily * np.sin(2 * math.pi * t / DAY))
            * (1 + weekly * np.sin(2 * math.pi * t / WEEK)))


def history(days: float, growth: float, seed: int = 7, **shape: float) -> HourlySeries:
    """Per-minute count events (Poisson counts, and a few percent of hour-to-hour noise)
    through the demand meter, as the worker sees them."""
    rng = np.random.default_rng(seed)
    minutes = T0 + 60 * np.arange(int(days * 1440))
    noise = np.repeat(1 + rng.normal(0, 0.03, len(minutes) // 60 + 1), 60)[:len(minutes)]
    counts = rng.poisson(rate(minutes + 30, growth, **shape) * 60 * noise)
    meter = DemandMeter([("checkout", None)], {("checkout", None): 90 * 24},
                        {"checkout-availability": "checkout"})
    for minute, count in zip(minutes.tolist(), counts.tolist(), strict=True):
        meter.count(minute + 60, "checkout-availability", count)
    meter.close(T0 + days * DAY)
    return meter.history[("checkout", None)]


def plan(usable: float, **more: object) -> CapacityPlan:
    # one instance per request/s, two spare: usable = instances - 2
    return CapacityPlan("checkout", 30 * DAY, 90 * DAY, per_instance=1.0,
                        instances=int(usable) + 2, **more)  # type: ignore[arg-type]


def analytic_crossing_days(at: float, usable: float, growth: float) -> float:
    t = at + 60 * np.arange(90 * 1440)
    over = rate(t, growth) >= usable
    return float(np.argmax(over)) / 1440


def test_p50_runway_is_within_15_percent_of_the_analytic_crossing() -> None:
    series = history(35, growth=0.02)
    at = T0 + 35 * DAY
    usable = 3300.0
    result = assess(plan(usable), series, at)
    expected = analytic_crossing_days(at, usable, 0.02)
    assert 20 < expected < 60  # beyond the lead time's scale, inside the horizon
    assert result.runway_days.p50 == pytest.approx(expected, rel=0.15)
    assert result.runway_days.p90 is not None and result.runway_days.p90 <= result.runway_days.p50
    assert result.exhausted_at.p50 == pytest.approx(at + result.runway_days.p50 * DAY)
    assert result.growth_per_day == pytest.approx(0.02 / 1.7, rel=0.15)  # slope over level at day 35
    assert result.warnings == ()
    assert len(result.forecast) == 90  # one point a day of the horizon
    assert result.mape is not None and result.mape < 0.1


@pytest.mark.parametrize("seeds", [(11, 12, 13, 14)])
def test_on_held_out_days_the_band_covers_70_to_90_percent_of_hourly_peaks(
        seeds: tuple[int, ...]) -> None:
    # Four histories pooled: one week of 168 hours alone varies by about 3 points of coverage.
    inside = []
    for seed in seeds:
        series = history(35, growth=0.02, seed=seed)
        first, values = series.until((T0 + 35 * DAY) // HOUR)
        train, held_out = values[:28 * 24], values[28 * 24:]
        result = forecast(train, first, 7 * 24)
        inside.append((held_out >= result.p10) & (held_out <= result.p90))
        assert result.backtest.coverage_p10_p90 is not None
        assert 0.7 <= result.backtest.coverage_p10_p90 <= 0.9
    assert 0.7 <= np.concatenate(inside).mean() <= 0.9


def test_a_flat_service_reports_no_runway_and_ok() -> None:
    series = history(35, growth=0.0)
    result = assess(plan(3000.0), series, T0 + 35 * DAY)
    assert result.runway_days.p50 is None and result.runway_days.p90 is None
    assert result.exhausted_at.p50 is None
    assert result.status is CapacityStatus.OK
    assert result.growth_per_day == pytest.approx(0.0, abs=0.002)


def test_a_launch_moves_the_runway_as_computed_by_hand() -> None:
    # Noise-free linear demand, no seasonality: demand(d) = 1000 * (1 + 0.01 d) per day d from T0.
    hours = np.arange(35 * 24)
    values = BASE * (1 + 0.01 * (hours + 1) / 24)
    series = HourlySeries(90 * 24, T0 // HOUR, values.astype(np.float64))
    at = T0 + 35 * DAY
    usable = 1800.0
    without = assess(plan(usable), series, at)
    # By hand: 1000 (1 + 0.01 d) = 1800 at d = 80, i.e. 45 days after `at` (day 35).
    assert without.runway_days.p50 == pytest.approx(45, abs=1 / 24)
    # A launch multiplying demand by 1.2 from day 40: 1200 (1 + 0.01 d) = 1800 at d = 50,
    # 15 days after `at` (and after the launch, so the launch does not cross by itself).
    launch = Launch("eu-launch", T0 + 40 * DAY, 1.2)
    moved = assess(plan(usable, launches=(launch,)), series, at)
    assert moved.runway_days.p50 == pytest.approx(15, abs=1 / 24)
    # A launch so large it crosses on its first hour: day 40, 5 days after `at`.
    big = Launch("big", T0 + 40 * DAY, 1.6)
    assert assess(plan(usable, launches=(big,)), series, at).runway_days.p50 == pytest.approx(5)


def test_a_past_launch_is_not_read_as_growth() -> None:
    hours = np.arange(35 * 24)
    values = np.where(hours >= 20 * 24, 1300.0, 1000.0)  # flat, stepped by a launch at day 20
    series = HourlySeries(90 * 24, T0 // HOUR, values.astype(np.float64))
    launch = Launch("eu-launch", T0 + 20 * DAY, 1.3)
    result = assess(plan(2000.0, launches=(launch,)), series, T0 + 35 * DAY)
    assert result.growth_per_day == pytest.approx(0.0, abs=1e-6)
    assert result.runway_days.p50 is None
    assert result.forecast[0].p50 == pytest.approx(1300.0, rel=1e-4)


def test_three_days_of_history_warn_and_still_forecast() -> None:
    series = history(3, growth=0.02)
    result = assess(plan(2900.0), series, T0 + 3 * DAY)
    assert any("no weekly seasonality" in warning for warning in result.warnings)
    assert len(result.forecast) == 90
    assert all(p.p10 <= p.p50 <= p.p90 for p in result.forecast)
    assert result.runway_days.p50 is not None  # 2%/day of base reaches 2900 within 90 days
    long = assess(plan(2900.0), history(35, growth=0.02), T0 + 35 * DAY)
    width = [(p.p90 - p.p10) / p.p50 for p in result.forecast[:7]]
    long_width = [(p.p90 - p.p10) / p.p50 for p in long.forecast[:7]]
    assert np.mean(width) > np.mean(long_width)  # the short history's band is wider


def test_gappy_or_tiny_histories_warn_and_never_crash() -> None:
    rng = np.random.default_rng(3)
    values = 1000 + rng.normal(0, 10, 20 * 24)
    values[rng.random(len(values)) < 0.3] = np.nan
    gappy = assess(plan(2000.0), HourlySeries(90 * 24, T0 // HOUR, values), T0 + 20 * DAY)
    assert any("have no data" in warning for warning in gappy.warnings)
    assert gappy.status is CapacityStatus.OK
    for count in (1, 2, 5, 30):
        tiny = HourlySeries(90 * 24, T0 // HOUR, np.full(count, 500.0))
        result = assess(plan(2000.0), tiny, T0 + count * HOUR)
        assert result.warnings and len(result.forecast) == 90
    empty = assess(plan(2000.0), HourlySeries(90 * 24), T0)
    assert empty.status is CapacityStatus.UNKNOWN and empty.forecast == ()


def test_status_follows_the_runway_against_the_lead_time() -> None:
    assert status_for(None, 30) is CapacityStatus.OK
    assert status_for(61, 30) is CapacityStatus.OK
    assert status_for(59, 30) is CapacityStatus.WARN
    assert status_for(29.9, 30) is CapacityStatus.CRITICAL


def test_services_are_ranked_most_urgent_first() -> None:
    hours = np.arange(35 * 24)
    growing = HourlySeries(90 * 24, T0 // HOUR, BASE * (1 + 0.01 * (hours + 1) / 24))
    at = T0 + 35 * DAY
    soon = assess(plan(1400.0), growing, at)  # crosses ~5 days out: critical
    later = assess(plan(2000.0), growing, at)  # 65 days: ok
    never = assess(plan(9000.0), growing, at)
    unknown = assess(plan(1000.0), HourlySeries(10), at)
    assert [r.status for r in ranked([never, unknown, later, soon])] == [
        CapacityStatus.CRITICAL, CapacityStatus.OK, CapacityStatus.OK, CapacityStatus.UNKNOWN]
    assert ranked([never, later])[0] is later
