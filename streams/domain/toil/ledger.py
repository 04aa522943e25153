"""The toil ledger: work as typed in, and the on-call work derived from incidents.

Incident work is derived, not typed in. For each incident, the span from its acknowledgement to
its mitigation (or to its resolution where it was never mitigated; to the end of the window
while it is still being worked) is on-call toil of the incident's team (the SLO's `team` label,
else its service). Each page (an incident opening or reopening), each escalation and each
operator command is an interrupt, costing `interrupt_minutes` beyond the span.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from msgspec import UNSET

from streams.domain.timestamps import parse_ts
from streams.wire.incidents import IncidentEvent
from streams.wire.toil import WorkEvent

INCIDENT_RESPONSE = "incident response: {slo}"
INTERRUPTS = {"opened": "page", "reopened": "page", "escalated": "escalation",
              "acknowledged": "command"}


@dataclass(frozen=True, slots=True)
class WorkItem:
    at: float  # epoch seconds: when the work ended (or was logged)
    team: str
    by: str
    task: str
    minutes: float
    kind: str  # toil, project, overhead or automated
    source: str | None = None
    ref: str | None = None
    outcome: str | None = None


def work_item(event: WorkEvent) -> WorkItem:
    return WorkItem(parse_ts(event.ts), event.team, event.by, event.task, float(event.minutes),
                    event.kind, None if event.source is UNSET else event.source,
                    None if event.ref is UNSET else event.ref,
                    None if event.outcome is UNSET else event.outcome)


def team_of(incident: IncidentEvent) -> str:
    return incident.labels.get("team") or incident.service


def incident_work(changes: Iterable[IncidentEvent], interrupt_minutes: float,
                  until: float) -> list[WorkItem]:
    """The on-call toil and interrupts in a stream of incident changes (in the topic's order)."""
    items: list[WorkItem] = []
    last: dict[str, IncidentEvent] = {}
    for change in changes:
        last[change.id] = change
        interrupt = INTERRUPTS.get(change.event)
        by = getattr(change, "by", UNSET)  # the operator behind a command's change
        if interrupt is None and isinstance(by, str):
            interrupt = "command"
        if interrupt is None:
            continue
        who = by if isinstance(by, str) else (change.assignee or "on-call")
        items.append(WorkItem(parse_ts(change.at), team_of(change), who, f"interrupt: {interrupt}",
                              interrupt_minutes, "toil", "page", change.id))
    for incident in last.values():
        if incident.acknowledged_at is None:
            continue
        start = parse_ts(incident.acknowledged_at)
        ended = getattr(incident, "mitigated_at", None) or incident.resolved_at
        end = parse_ts(ended) if ended else until
        if end <= start:
            continue
        items.append(WorkItem(end, team_of(incident), incident.assignee or "on-call",
                              INCIDENT_RESPONSE.format(slo=incident.slo), (end - start) / 60.0,
                              "toil", "incident", incident.id))
    return items
