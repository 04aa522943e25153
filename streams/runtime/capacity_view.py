"""`GET /v1/capacity`: the latest capacity events as one report, most urgent first."""

from __future__ import annotations

import msgspec

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
