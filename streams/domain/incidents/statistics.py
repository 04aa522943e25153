"""MTTA, MTTR, time to detect and counts by severity: for the live book and the CLI alike."""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

PRIORITIES = ("P1", "P2", "P3")


class IncidentTimes(msgspec.Struct, frozen=True):
    """What the statistics read of one incident (instants in epoch seconds)."""

    service: str
    severity: str
    resolved: bool
    opened_at: float
    acknowledged_at: float | None
    resolved_at: float | None
    detected_after: float | None


class IncidentSummary(msgspec.Struct, frozen=True, kw_only=True):
    incidents: int
    open: int
    by_severity: dict[str, int]
    mtta_seconds: float | None
    mttr_seconds: float | None
    mttd_seconds: float | None


class IncidentStatistics(msgspec.Struct, frozen=True, kw_only=True):
    overall: IncidentSummary
    services: dict[str, IncidentSummary]


def incident_statistics(incidents: Iterable[IncidentTimes]) -> IncidentStatistics:
    """MTTA, MTTR, MTTD and counts by severity, overall and per service."""
    everything = list(incidents)
    services = sorted({i.service for i in everything})
    return IncidentStatistics(
        overall=_summary(everything),
        services={s: _summary([i for i in everything if i.service == s]) for s in services})


def _summary(incidents: list[IncidentTimes]) -> IncidentSummary:
    acked = [i.acknowledged_at - i.opened_at for i in incidents if i.acknowledged_at]
    fixed = [i.resolved_at - i.opened_at for i in incidents if i.resolved_at]
    detect = [i.detected_after for i in incidents if i.detected_after is not None]
    return IncidentSummary(
        incidents=len(incidents), open=sum(not i.resolved for i in incidents),
        by_severity={p: sum(i.severity == p for i in incidents) for p in PRIORITIES},
        mtta_seconds=_mean(acked), mttr_seconds=_mean(fixed), mttd_seconds=_mean(detect))


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None
