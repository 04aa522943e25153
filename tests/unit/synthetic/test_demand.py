"""Generator growth, weekly seasonality and per-minute count events."""

from __future__ import annotations

import numpy as np
import pytest

from streams.cli.generate import growth_per_day
from streams.synthetic.demand import demand_rate, generate_counts
from streams.synthetic.traffic import Incident, Scenario, generate

START = 1_795_392_000.0  # 2026-11-23T00:00:00Z


@pytest.mark.parametrize(("text", "value"), [("2%/d", 0.02), ("2%", 0.02), ("0.02/d", 0.02),
                                             ("-1.5%/d", -0.015), ("0", 0.0)])
def test_growth_is_read_as_a_fraction_per_day(text: str, value: float) -> None:
    assert growth_per_day(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["fast", "2%/w", "nan%"])
def test_a_bad_growth_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="--growth"):
        growth_per_day(text)


def test_count_events_follow_the_demand_formula() -> None:
    scenario = Scenario(start=START, duration=14 * 86400.0, rate=600.0, services=("checkout",),
                        regions=("eu", "us"), growth=0.05, weekly=0.2, seed=3)
    events = list(generate_counts(scenario, "{service}-availability"))
    assert len(events) == 14 * 1440
    assert events[0]["ts"] == START + 60 and events[0]["slo"] == "checkout-availability"
    totals = np.array([e["total"] for e in events], dtype=float)
    ends = np.array([e["ts"] for e in events])
    expected = demand_rate(ends - 30, 600.0, START, growth=0.05, weekly=0.2) * 60
    # Poisson counts: each day's sum within a few standard deviations of the formula's
    daily = totals.reshape(14, 1440).sum(axis=1)
    want = expected.reshape(14, 1440).sum(axis=1)
    assert np.all(np.abs(daily - want) < 5 * np.sqrt(want))
    assert daily[-1] / daily[0] > 1.4  # 5% a day of the base over 13 days, weekly aside


def test_count_events_carry_an_incident_s_failures() -> None:
    scenario = Scenario(start=START, duration=3600.0, rate=100.0, services=("checkout", "search"),
                        incidents=(Incident("outage", 600.0, 600.0, service="search"),), seed=1)
    events = list(generate_counts(scenario, "{service}-availability"))
    during = [e for e in events if START + 660 <= e["ts"] <= START + 1200]
    assert all(e["good"] == 0 for e in during if e["slo"] == "search-availability")
    assert all(e["good"] > 0.9 * e["total"] for e in during if e["slo"] == "checkout-availability")


def test_request_events_grow_too() -> None:
    scenario = Scenario(start=START, duration=4 * 86400.0, rate=2.0, services=("checkout",),
                        regions=("eu",), growth=1.0, seed=5)
    days = np.array([e["ts"] for e in generate(scenario)]) // 86400 - START // 86400
    per_day = np.bincount(days.astype(int))
    # rate (1 + d) on day d: 1x, 2x, 3x, 4x of 172,800 / 2 requests at the day's middle
    assert per_day.tolist() == pytest.approx([2 * 86400 * (1 + d + 0.5) for d in range(4)],
                                             rel=0.02)


def test_a_weekly_amplitude_outside_0_to_1_is_refused() -> None:
    with pytest.raises(ValueError, match="weekly"):
        Scenario(start=START, duration=60.0, rate=1.0, weekly=1.5)
