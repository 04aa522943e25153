"""`sre.incidents`: a change of an incident, keyed by its id so one incident stays in order."""

from __future__ import annotations

from typing import Literal

import msgspec
from msgspec import UNSET, UnsetType

from streams.wire.alerts import AlertStatus
from streams.wire.codec import decode
from streams.wire.envelope import Envelope

IncidentChange = Literal["opened", "updated", "acknowledged", "escalated", "resolved", "reopened",
                         "mitigated", "retired"]
IncidentStatus = Literal["open", "acknowledged", "mitigated", "resolved"]
IncidentSeverity = Literal["P1", "P2", "P3"]


class IncidentAlert(msgspec.Struct, frozen=True, kw_only=True):
    """The latest state of one alert of an incident."""

    id: str
    rule: str
    severity: str
    status: AlertStatus
    started_at: str
    at: str
    burn_rate_long: float
    burn_rate_short: float
    error_budget_remaining: float
    suppressed: str | UnsetType = UNSET  # why it neither opened nor notified


class SuggestedRunbook(msgspec.Struct, frozen=True, kw_only=True):
    """A runbook of the toil section that matches the incident (mode suggest: for a person)."""

    name: str
    url: str | None = None


class IncidentEvent(Envelope, frozen=True, kw_only=True, tag="incident"):
    """One change of an incident, carrying its whole state after the change."""

    id: str
    event: IncidentChange
    status: IncidentStatus
    severity: IncidentSeverity
    title: str
    service: str
    slo: str
    series: dict[str, str]
    alerts: list[IncidentAlert]
    opened_at: str
    acknowledged_at: str | None
    resolved_at: str | None
    escalation_level: int
    assignee: str | None
    at: str
    labels: dict[str, str]
    error_budget_remaining: float
    error_budget_consumed: float
    bad_events: int | None
    detected_after: float | None
    runbook_url: str | UnsetType = UNSET
    notify: list[str] | UnsetType = UNSET  # escalations: the receivers of the level reached
    postmortem: str | UnsetType = UNSET  # resolutions: the draft, Markdown
    runbooks: list[SuggestedRunbook] | UnsetType = UNSET  # suggested runbooks that match
    by: str | UnsetType = UNSET  # changes an operator's command made: who issued it
    mitigated_at: str | UnsetType = UNSET  # when its pages last stopped (absent: never, or paging)


def decode_incident(data: bytes | str) -> IncidentEvent:
    return decode(data, IncidentEvent, "incident")
