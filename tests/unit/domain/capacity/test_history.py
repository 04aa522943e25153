"""Hourly demand history: p99 of per-minute rates, count events, resources, the ring's bound."""

from __future__ import annotations

import math

import numpy as np
import pytest

from streams.domain.capacity.history import DemandMeter, HourlySeries, hourly_peak

T0 = 1_796_083_200  # 2026-12-01T00:00:00Z, an hour boundary
HOUR = 3600


def meter(limit: int = 24) -> DemandMeter:
    keys = [("checkout", None), ("search", "disk")]
    return DemandMeter(keys, {k: limit for k in keys},
                       {"checkout-availability": "checkout", "checkout-latency": "checkout",
                        "search-availability": "search"})


def test_the_peak_of_an_hour_is_the_p99_of_its_per_minute_rates() -> None:
    m = meter()
    counts = list(range(1, 61))  # minute i holds i requests
    for minute, count in enumerate(counts):
        for _ in range(count):
            m.request(T0 + minute * 60 + 1.5, "checkout")
    m.close(T0 + HOUR)
    rates = np.array(counts) / 60
    (first, values) = m.history[("checkout", None)].until(T0 // HOUR + 1)
    assert first == T0 // HOUR
    assert values[0] == pytest.approx(float(np.percentile(rates, 99)))
    # minutes without events are rates of 0
    assert hourly_peak([60.0]) == pytest.approx(np.percentile([1.0] + [0.0] * 59, 99))


def test_count_events_of_one_service_count_its_largest_slo_not_the_sum() -> None:
    m = meter()
    for minute in range(60):
        end = T0 + (minute + 1) * 60  # a count event's ts ends its minute
        m.count(end, "checkout-availability", 600)
        m.count(end, "checkout-latency", 600)  # the same requests, seen by another SLO
        m.request(T0 + minute * 60 + 10, "checkout")
    m.count(T0 + 60, "search-availability", 10_000)  # another service: not checkout's
    m.close(T0 + HOUR)
    (_, values) = m.history[("checkout", None)].until(T0 // HOUR + 1)
    assert values[0] == pytest.approx(601 / 60)


def test_events_for_a_closed_hour_are_late_and_do_not_change_it() -> None:
    m = meter()
    m.request(T0 + 10, "checkout")
    m.close(T0 + HOUR)
    m.request(T0 + 20, "checkout")
    m.request(T0 + HOUR + 5, "unplanned-service")  # not planned: ignored, not late
    assert m.late == 1
    m.close(T0 + 2 * HOUR)
    series = m.history[("checkout", None)]
    assert series.first_hour == T0 // HOUR and series.values is not None
    assert series.values.tolist() == [pytest.approx(np.percentile([1 / 60] + [0] * 59, 99))]


def test_a_resource_keeps_the_hourly_maximum_of_used_and_its_latest_capacity() -> None:
    m = meter()
    m.resource(T0 + 10, "search", "disk", 100.0, 2000.0)
    m.resource(T0 + 20, "search", "disk", 140.0, None)
    m.resource(T0 + 30, "search", "disk", 120.0, 2500.0)
    m.resource(T0 + 3 * HOUR, "search", "disk", 150.0, None)
    m.close(T0 + 4 * HOUR)
    (_, values) = m.history[("search", "disk")].until(T0 // HOUR + 4)
    assert values[0] == 140.0 and math.isnan(values[1]) and math.isnan(values[2])
    assert values[3] == 150.0
    assert m.capacity[("search", "disk")] == 2500.0


def test_the_ring_keeps_the_latest_hours_and_survives_a_round_trip() -> None:
    series = HourlySeries(limit=5)
    for hour in range(100, 108):
        series.put(hour, float(hour))
    series.put(110, 110.0)
    assert series.first_hour == 106 and series.values is not None
    assert [None if math.isnan(v) else v for v in series.values] == [106.0, 107.0, None, None, 110.0]
    again = HourlySeries.from_dict(series.to_dict(), limit=5)
    assert again.first_hour == 106
    assert np.array_equal(again.values, series.values, equal_nan=True)
    first, values = series.until(112)  # padded up to the hour asked for, at most `limit`
    assert first == 107 and len(values) == 5 and math.isnan(values[-1])
