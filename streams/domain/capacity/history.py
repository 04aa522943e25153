"""Hourly demand history: the peak of each hour, from events, in a bounded ring.

A service's peak of an hour is the 99th percentile of its 60 per-minute request rates
(requests/s; a minute without events is a rate of 0). Request events count one each in the
minute of their `ts`; a count event's `total` counts in the minute it ends (its `ts` is the
end of the counted interval, so count events are expected per minute). Several SLOs of one
service count the same requests, so a minute's count events add up per SLO and the largest
SLO's total is the service's (plus any request events of that minute).

A resource's point of an hour is the largest `used` of its events in that hour.

An hour is closed, its point computed and its minutes forgotten, once event time has passed
its end; an event for a closed hour is late and counted, not added.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from streams.domain.capacity.forecast import Floats

HOUR = 3600
MINUTE = 60


@dataclass(slots=True)
class HourlySeries:
    """Hourly points from absolute hour `first_hour` on (NaN: no point), at most `limit`."""

    limit: int
    first_hour: int | None = None
    values: Floats | None = None

    def put(self, hour: int, value: float) -> None:
        """Set the point of `hour`, at or after the last one; the oldest fall off the ring."""
        if self.first_hour is None or self.values is None:
            self.first_hour, self.values = hour, np.array([value], dtype=np.float64)
            return
        index = hour - self.first_hour
        if index < len(self.values):
            if index >= 0:
                self.values[index] = value
            return
        gap = np.full(index - len(self.values), np.nan)
        self.values = np.concatenate([self.values, gap, [value]])
        if len(self.values) > self.limit:
            drop = len(self.values) - self.limit
            self.values = self.values[drop:].copy()
            self.first_hour += drop

    def until(self, end_hour: int) -> tuple[int, Floats] | None:
        """(first hour, points) of every hour before `end_hour`, NaN-padded up to it."""
        if self.first_hour is None or self.values is None or end_hour <= self.first_hour:
            return None
        count = min(end_hour - self.first_hour, len(self.values))
        values = self.values[:count]
        pad = end_hour - self.first_hour - count
        if pad:
            values = np.concatenate([values, np.full(pad, np.nan)])
        start = max(self.first_hour, end_hour - self.limit)
        return start, values[start - self.first_hour:]

    @property
    def last_hour(self) -> int | None:
        if self.first_hour is None or self.values is None:
            return None
        return self.first_hour + len(self.values) - 1

    def to_dict(self) -> dict[str, object]:
        values = [] if self.values is None else [None if math.isnan(v) else float(v)
                                                  for v in self.values]
        return {"first_hour": self.first_hour, "values": values}

    @classmethod
    def from_dict(cls, data: dict[str, object], limit: int) -> HourlySeries:
        first = data.get("first_hour")
        raw = data.get("values") or []
        assert isinstance(raw, list)
        values = np.array([np.nan if v is None else float(v) for v in raw], dtype=np.float64)
        series = cls(limit, first if isinstance(first, int) else None,
                     values if len(values) else None)
        if series.values is not None and len(series.values) > limit:
            series.values = series.values[-limit:].copy()
            assert series.first_hour is not None
            series.first_hour += len(values) - limit
        return series


def hourly_peak(minute_counts: Iterable[float]) -> float:
    """p99 of the per-minute rates (requests/s) of an hour: `minute_counts` holds the counts of
    the minutes with events; the others are 0."""
    rates = np.zeros(60)
    counts = np.fromiter(minute_counts, dtype=np.float64)
    rates[:len(counts)] = counts / MINUTE
    return float(np.percentile(rates, 99))


Key = tuple[str, str | None]  # (service, resource or None for request demand)


class DemandMeter:
    """The hourly history of every planned service and resource, fed event by event."""

    def __init__(self, keys: Iterable[Key], limit_hours: dict[Key, int],
                 slo_services: dict[str, str]) -> None:
        self.history: dict[Key, HourlySeries] = {k: HourlySeries(limit_hours[k]) for k in keys}
        self._services = {service for service, resource in self.history if resource is None}
        self._slo_services = {slo: service for slo, service in slo_services.items()
                              if service in self._services}
        self._requests: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
        self._counts: dict[str, dict[tuple[int, str], float]] = defaultdict(
            lambda: defaultdict(float))
        self._used: dict[Key, dict[int, float]] = defaultdict(dict)
        self.capacity: dict[Key, float] = {}  # latest capacity a resource's events declared
        self.closed_until = 0  # hours before this absolute hour are closed
        self.late = 0

    def request(self, ts: float, service: str) -> None:
        if service not in self._services:
            return
        minute = int(ts // MINUTE)
        if self._is_late(minute // 60):
            return
        self._requests[service][minute] += 1.0

    def count(self, ts: float, slo: str, total: float) -> None:
        service = self._slo_services.get(slo)
        if service is None:
            return
        minute = math.ceil(ts / MINUTE) - 1  # the minute the counted interval ends in
        if self._is_late(minute // 60):
            return
        self._counts[service][(minute, slo)] += total

    def resource(self, ts: float, service: str, resource: str, used: float,
                 capacity: float | None) -> None:
        key = (service, resource)
        if key not in self.history:
            return
        hour = int(ts // HOUR)
        if self._is_late(hour):
            return
        hours = self._used[key]
        hours[hour] = max(hours.get(hour, used), used)
        if capacity is not None:
            self.capacity[key] = capacity

    def _is_late(self, hour: int) -> bool:
        if hour < self.closed_until:
            self.late += 1
            return True
        return False

    def close(self, until: float) -> None:
        """Close every hour that ends at or before `until` (epoch seconds)."""
        end = int(until // HOUR)
        if end <= self.closed_until:
            return
        for service in self._services:
            minutes: dict[int, float] = defaultdict(float)
            requests = self._requests.get(service, {})
            for minute in [m for m in requests if m // 60 < end]:
                minutes[minute] += requests.pop(minute)
            counts = self._counts.get(service, {})
            largest: dict[int, float] = {}
            for entry in [k for k in counts if k[0] // 60 < end]:
                total = counts.pop(entry)
                largest[entry[0]] = max(largest.get(entry[0], 0.0), total)
            for minute, total in largest.items():
                minutes[minute] += total
            by_hour: dict[int, list[float]] = defaultdict(list)
            for minute, total in minutes.items():
                by_hour[minute // 60].append(total)
            for hour in sorted(by_hour):
                self.history[(service, None)].put(hour, hourly_peak(by_hour[hour]))
        for key, used in self._used.items():
            for hour in sorted(h for h in used if h < end):
                self.history[key].put(hour, used.pop(hour))
        self.closed_until = end


def meter_state(meter: DemandMeter) -> dict[str, object]:
    """What a meter holds besides its histories (those are `HourlySeries.to_dict` each), as
    JSON values: its open hours, and where they start."""
    return {
        "closed_until": meter.closed_until,
        "late": meter.late,
        "requests": [[service, sorted(minutes.items())]
                     for service, minutes in meter._requests.items() if minutes],
        "counts": [[service, [[minute, slo, total] for (minute, slo), total in sorted(counts.items())]]
                   for service, counts in meter._counts.items() if counts],
        "used": [[service, resource, sorted(hours.items())]
                 for (service, resource), hours in meter._used.items() if hours],
        "capacity": [[service, resource, value]
                     for (service, resource), value in meter.capacity.items()],
    }


def restore_meter(meter: DemandMeter, state: dict[str, Any],
                  histories: dict[Key, dict[str, object]]) -> None:
    """Load `meter_state` and the histories into a meter of the same plans (plans no longer
    planned are left out)."""
    meter.closed_until = int(state["closed_until"])
    meter.late = int(state["late"])
    for key, data in histories.items():
        if key in meter.history:
            meter.history[key] = HourlySeries.from_dict(data, meter.history[key].limit)
    for service, minutes in state["requests"]:
        if service in meter._services:
            meter._requests[service].update({int(m): float(c) for m, c in minutes})
    for service, counts in state["counts"]:
        if service in meter._services:
            meter._counts[service].update({(int(m), str(s)): float(t) for m, s, t in counts})
    for service, resource, hours in state["used"]:
        if (service, resource) in meter.history:
            meter._used[(service, resource)].update({int(h): float(u) for h, u in hours})
    for service, resource, value in state["capacity"]:
        if (service, resource) in meter.history:
            meter.capacity[(service, resource)] = float(value)
