"""The toil ledger: work as typed in, and the on-call work derived from incidents.

Incident work is derived, not typed in. For each incident, each span from an acknowledgement to
the mitigation that follows (or to its resolution where it was not mitigated; to the end of the
window while it is still being worked; a page firing again during a mitigation starts a new
span at its next acknowledgement) is on-call toil of the incident's team (the SLO's `team` label,
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


ENDED = frozenset({"mitigated", "resolved"})


def span_key(change: IncidentEvent) -> str:
    """One acknowledged stretch of an incident (a re-page after a mitigation starts another)."""
    return f"{change.id}@{change.acknowledged_at}"


def span(change: IncidentEvent, until: float | None = None) -> WorkItem | None:
    """The acknowledged span a change ends (a mitigation or a resolution), or, with `until`,
    the span of an incident still being worked up to then."""
    if change.acknowledged_at is None:
        return None
    start = parse_ts(change.acknowledged_at)
    if change.event in ENDED:
        ended = change.mitigated_at or change.resolved_at
        end = parse_ts(ended) if ended else parse_ts(change.at)
    elif until is not None and change.status != "resolved":
        end = until
    else:
        return None
    if end <= start:
        return None
    return WorkItem(end, team_of(change), change.assignee or "on-call",
                    INCIDENT_RESPONSE.format(slo=change.slo), (end - start) / 60.0, "toil",
                    "incident", change.id)


def interrupt(change: IncidentEvent, minutes: float) -> WorkItem | None:
    """The interrupt a change is for a person: a page, an escalation, a command."""
    kind = INTERRUPTS.get(change.event)
    by = change.by if isinstance(change.by, str) else None  # the operator behind a command
    if kind is None and by is not None:
        kind = "command"
    if kind is None:
        return None
    return WorkItem(parse_ts(change.at), team_of(change), by or change.assignee or "on-call",
                    f"interrupt: {kind}", minutes, "toil", "page", change.id)


def incident_work(changes: Iterable[IncidentEvent], interrupt_minutes: float,
                  until: float) -> list[WorkItem]:
    """The on-call toil and interrupts in a stream of incident changes (in the topic's order)."""
    items: list[WorkItem] = []
    counted: set[str] = set()
    last: dict[str, IncidentEvent] = {}
    for change in changes:
        last[change.id] = change
        found = interrupt(change, interrupt_minutes)
        if found is not None:
            items.append(found)
        worked = span(change)
        if worked is not None and span_key(change) not in counted:
            counted.add(span_key(change))
            items.append(worked)
    for change in last.values():  # still being worked at the end of the window
        worked = span(change, until)
        if worked is not None and change.event not in ENDED and span_key(change) not in counted:
            items.append(worked)
    return items
