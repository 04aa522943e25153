"""Retention: resolved incidents older than `incidents.retention` (event time) leave the book.

What the statistics need of them stays behind as running totals per service, so MTTA, the two
MTTRs and the counts go on counting every incident ever opened; the incident itself goes (its
state record gets a tombstone, and a `retired` event says so on `sre.incidents`).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping

from streams.domain.incidents.model import Incident, Status
from streams.domain.incidents.statistics import Totals

DEFAULT_RETENTION = 30 * 86400.0


class Retired:
    """Resolved incidents by resolution time (a heap: nothing is walked), and the totals of
    those retired, per service."""

    def __init__(self, retention: float = DEFAULT_RETENTION) -> None:
        self.retention = retention
        self.totals: dict[str, Totals] = {}
        self._due: list[tuple[float, str]] = []  # (resolved at, incident id)

    def watch(self, incident: Incident) -> None:
        """A resolution: the incident leaves `retention` after it (unless reopened since)."""
        if incident.resolved_at is not None:
            heapq.heappush(self._due, (incident.resolved_at, incident.id))

    def rebuild(self, incidents: Iterable[Incident]) -> None:
        self._due = [(i.resolved_at, i.id) for i in incidents
                     if i.status is Status.RESOLVED and i.resolved_at is not None]
        heapq.heapify(self._due)

    def expired(self, incidents: Mapping[str, Incident], now: float) -> list[Incident]:
        """Resolved incidents past retention at `now`, in resolution order (not removed)."""
        cutoff = now - self.retention
        found = []
        while self._due and self._due[0][0] <= cutoff:
            resolved_at, ident = heapq.heappop(self._due)
            incident = incidents.get(ident)
            if (incident is not None and incident.status is Status.RESOLVED
                    and incident.resolved_at == resolved_at):  # else reopened since
                found.append(incident)
        return found

    def retire(self, totals: Totals, service: str) -> None:
        self.totals.setdefault(service, Totals()).add(totals)
