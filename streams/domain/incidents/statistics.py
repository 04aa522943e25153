"""MTTA, MTTR, time to detect and counts by severity: for the live book and the CLI alike.

MTTR is reported both ways: `time_to_mitigate_seconds` (opening to the pages' end: the last
mitigation, or the resolution of one never mitigated) and `time_to_resolve_seconds` (opening to
resolution; `mttr_seconds` is the same figure, kept under its first name).

The figures are running totals (sums and counts), so incidents that left the book (retention)
still count: their totals are kept, and added to those of the incidents still held.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

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


class Totals(msgspec.Struct, kw_only=True):
    """Running sums of incidents: counts, and the sum and count of each time."""

    incidents: int = 0
    open: int = 0
    mitigated: int = 0
    by_severity: dict[str, int] = {}
    acknowledge_sum: float = 0.0
    acknowledged: int = 0
    mitigate_sum: float = 0.0
    pages_ended: int = 0  # incidents whose pages ended (mitigated or resolved)
    resolve_sum: float = 0.0
    resolved: int = 0
    detect_sum: float = 0.0
    detected: int = 0

    def add(self, other: Totals) -> None:
        for name in self.__struct_fields__:
            if name == "by_severity":
                for key, count in other.by_severity.items():
                    self.by_severity[key] = self.by_severity.get(key, 0) + count
            else:
                setattr(self, name, getattr(self, name) + getattr(other, name))

    def count(self, i: IncidentTimes) -> None:
        """Add one incident."""
        self.incidents += 1
        self.open += not i.resolved
        self.mitigated += not i.resolved and i.mitigated_at is not None
        self.by_severity[i.severity] = self.by_severity.get(i.severity, 0) + 1
        if i.acknowledged_at:
            self.acknowledge_sum += i.acknowledged_at - i.opened_at
            self.acknowledged += 1
        if (ended := i.pages_ended_at) is not None:
            self.mitigate_sum += ended - i.opened_at
            self.pages_ended += 1
        if i.resolved_at:
            self.resolve_sum += i.resolved_at - i.opened_at
            self.resolved += 1
        if i.detected_after is not None:
            self.detect_sum += i.detected_after
            self.detected += 1


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


def incident_statistics(incidents: Iterable[IncidentTimes],
                        retired: Mapping[str, Totals] | None = None) -> IncidentStatistics:
    """MTTA, both MTTRs, MTTD and counts by severity, overall and per service, of these
    incidents and the totals of those retired (by service)."""
    services: dict[str, Totals] = {}
    for service, totals in (retired or {}).items():
        services.setdefault(service, Totals()).add(totals)
    for times in incidents:
        services.setdefault(times.service, Totals()).count(times)
    overall = Totals()
    for totals in services.values():
        overall.add(totals)
    return IncidentStatistics(overall=_summary(overall),
                              services={s: _summary(services[s]) for s in sorted(services)})


def _summary(t: Totals) -> IncidentSummary:
    resolve = _mean(t.resolve_sum, t.resolved)
    return IncidentSummary(
        incidents=t.incidents, open=t.open,
        by_severity={p: t.by_severity.get(p, 0) for p in PRIORITIES},
        mtta_seconds=_mean(t.acknowledge_sum, t.acknowledged), mttr_seconds=resolve,
        mttd_seconds=_mean(t.detect_sum, t.detected), mitigated=t.mitigated,
        time_to_mitigate_seconds=_mean(t.mitigate_sum, t.pages_ended),
        time_to_resolve_seconds=resolve)


def _mean(total: float, count: int) -> float | None:
    return total / count if count else None
