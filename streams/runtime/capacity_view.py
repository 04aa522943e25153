"""`GET /v1/capacity`: the latest capacity events as one report, most urgent first."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

import msgspec
from prometheus_client.core import GaugeMetricFamily, Metric

from streams.wire.capacity import CapacityEvent

_RANK = {"critical": 0, "warn": 1, "ok": 2, "unknown": 3}


def _urgency(event: CapacityEvent) -> tuple[int, float, float, str, str]:
    far = float("inf")
    p90 = event.runway_days.p90 if event.runway_days.p90 is not None else far
    p50 = event.runway_days.p50 if event.runway_days.p50 is not None else far
    return _RANK[event.status], p90, p50, event.service, event.resource or ""


def capacity_document(events: list[CapacityEvent]) -> dict[str, object]:
    """`{"kind": "capacity", "version": 1, "at", "services"}` as the offline report has it;
    `at` is the latest event's (null before the first hour closes)."""
    ranked = sorted(events, key=_urgency)
    services = []
    for event in ranked:
        item = msgspec.to_builtins(event)
        for key in ("kind", "version", "at"):
            item.pop(key, None)
        services.append(item)
    return {"kind": "capacity", "version": 1,
            "at": max((event.at for event in events), default=None), "services": services}


def capacity_metrics(events: Iterable[CapacityEvent]) -> Iterator[Metric]:
    """`sre_capacity_runway_days{service,resource,bound}` (+Inf: lasts the horizon; left out
    while capacity is unknown) and `sre_capacity_usable{service,resource}`."""
    runway = GaugeMetricFamily(
        "sre_capacity_runway_days", "Days until the forecast peak (p50 or p90 bound) reaches "
        "usable capacity; +Inf when it lasts the horizon.", labels=["service", "resource", "bound"])
    usable = GaugeMetricFamily("sre_capacity_usable", "Usable capacity (N+2 for request "
                               "demand), in the plan's unit.", labels=["service", "resource"])
    for event in sorted(events, key=lambda e: (e.service, e.resource or "")):
        labels = [event.service, event.resource or ""]
        if event.usable_capacity is None or event.status == "unknown":
            continue
        usable.add_metric(labels, event.usable_capacity)
        for bound, days in (("p50", event.runway_days.p50), ("p90", event.runway_days.p90)):
            runway.add_metric([*labels, bound], math.inf if days is None else days)
    yield from (runway, usable)
