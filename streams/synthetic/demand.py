"""Long-run demand for the generator: linear growth, weekly seasonality, and count events.

Growth is linear in the scenario's base rate: `growth` 0.02 adds 2% of it each day. The
weekly factor is `1 + weekly * sin(2π t / 1w)` on epoch seconds: highest on Friday 18:00 UTC,
lowest on Tuesday 06:00 UTC. Both multiply the rate with the daily seasonality, so a test can
compute the demand of any instant exactly (`demand_rate`).

`generate_counts` writes one count event per minute per service instead of one event per
request: weeks of history stay small. Each minute's requests per (service, region) are
Poisson with the mean rate of the minute's middle, failures binomial with the error rate of
the cell (the base rate, or an active incident's when higher), summed over regions.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TypedDict

import numpy as np
from numpy.typing import NDArray

_DAY_S = 86_400.0
_WEEK_S = 7 * _DAY_S
_SEASONAL_PHASE_S = 6 * 3_600.0  # as the request generator's daily seasonality
_MINUTE_S = 60.0
_MINUTES_PER_CHUNK = 1_440

Floats = NDArray[np.float64]


class CountEvent(TypedDict):
    ts: float
    slo: str
    good: int
    total: int


def shape(t: Floats, start: float, growth: float, weekly: float) -> Floats:
    """The factor growth and weekly seasonality put on the base rate at epoch seconds `t`."""
    factor: Floats = 1.0 + growth * (t - start) / _DAY_S
    if weekly:
        factor = factor * (1.0 + weekly * np.sin(2 * math.pi * t / _WEEK_S))
    return factor


def demand_rate(t: Floats, rate: float, start: float, seasonality: float = 0.0,
                growth: float = 0.0, weekly: float = 0.0) -> Floats:
    """Mean requests/s over all services and regions at epoch seconds `t`."""
    daily = 1.0 + seasonality * np.sin(2 * math.pi * (np.mod(t, _DAY_S) - _SEASONAL_PHASE_S) / _DAY_S)
    result: Floats = rate * daily * shape(t, start, growth, weekly)
    return result


def generate_counts(scenario: object, slo_name: str) -> Iterator[CountEvent]:
    """Count events, one per minute per service, `ts` the end of the minute, in time order.

    `slo_name` names each service's SLO: `{service}` is replaced by the service's name.
    """
    from streams.synthetic.traffic import Scenario

    assert isinstance(scenario, Scenario)
    rng = np.random.default_rng(scenario.seed)
    services, regions = scenario.services, scenario.regions
    cells = len(services) * len(regions)
    names = [slo_name.replace("{service}", service) for service in services]
    minutes = math.ceil(scenario.duration / _MINUTE_S)
    for first in range(0, minutes, _MINUTES_PER_CHUNK):
        index = np.arange(first, min(first + _MINUTES_PER_CHUNK, minutes))
        begin = scenario.start + index * _MINUTE_S
        end = np.minimum(begin + _MINUTE_S, scenario.start + scenario.duration)
        middle = (begin + end) / 2
        mean = demand_rate(middle, scenario.rate, scenario.start, scenario.seasonality,
                           scenario.growth, scenario.weekly) * (end - begin) / cells
        totals = rng.poisson(np.repeat(mean[:, None], cells, axis=1))
        error = np.full(totals.shape, scenario.base_error_rate)
        for incident in scenario.incidents:
            active = ((middle - scenario.start >= incident.start)
                      & (middle - scenario.start < incident.end))
            if not active.any() or not incident.error_rate:
                continue
            columns = np.array([s * len(regions) + r for s, service in enumerate(services)
                                for r, region in enumerate(regions)
                                if incident.service in (None, service)
                                and incident.region in (None, region)], dtype=np.int64)
            rows = np.flatnonzero(active)
            block = error[np.ix_(rows, columns)]
            error[np.ix_(rows, columns)] = np.maximum(block, incident.error_rate)
        bad = rng.binomial(totals, error)
        per_service = totals.reshape(len(index), len(services), len(regions)).sum(axis=2)
        bad_service = bad.reshape(len(index), len(services), len(regions)).sum(axis=2)
        for row, ts in enumerate(end.tolist()):
            for column, name in enumerate(names):
                total = int(per_service[row, column])
                yield {"ts": ts, "slo": name, "good": total - int(bad_service[row, column]),
                       "total": total}
