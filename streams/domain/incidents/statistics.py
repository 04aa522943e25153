"""MTTA, MTTR, time to detect and counts by severity: for the live book and the CLI alike.

MTTR is reported both ways: `time_to_mitigate_seconds` (opening to the pages' end: the last
mitigation, or the resolution of one never mitigated) and `time_to_resolve_seconds` (opening to
resolution; `mttr_seconds` is the same figure, kept under its first name).
"""

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
    mitigated_at: float | None = None

    @property
    def pages_ended_at(self) -> float | None:
        """When it stopped paging: its last mitigation, else its resolution."""
        return self.mitigated_at if self.mitigated_at is not None else self.resolved_at


class IncidentSummary(msgspec.Struct, frozen=True, kw_only=True):
    incidents: int
    open: int
    by_severity: dict[str, int]
    mtta_seconds: float | None
    mttr_seconds: float | None
    mttd_seconds: float | None
    mitigated: int = 0  # open at ticket level: no page fires any more
    time_to_mitigate_seconds: float | None = None  # mean, opening to the pages' end
    time_to_resolve_seconds: float | None = None  # mean, opening to resolution (= mttr_seconds)


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
    calmed = [end - i.opened_at for i in incidents if (end := i.pages_ended_at) is not None]
    return IncidentSummary(
        incidents=len(incidents), open=sum(not i.resolved for i in incidents),
        by_severity={p: sum(i.severity == p for i in incidents) for p in PRIORITIES},
        mtta_seconds=_mean(acked), mttr_seconds=_mean(fixed), mttd_seconds=_mean(detect),
        mitigated=sum(not i.resolved and i.mitigated_at is not None for i in incidents),
        time_to_mitigate_seconds=_mean(calmed), time_to_resolve_seconds=_mean(fixed))


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None
