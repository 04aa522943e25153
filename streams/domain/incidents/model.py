"""What an incident is made of: priorities, states, the policy, alert states and timelines."""

from __future__ import annotations

import fnmatch
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import msgspec
from msgspec import UNSET, UnsetType

from streams.domain.timestamps import format_ts
from streams.wire.incidents import IncidentAlert


class Priority(StrEnum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"

    @property
    def rank(self) -> int:
        """Higher is more urgent."""
        return 3 - int(self.value[1])


class Status(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    MITIGATED = "mitigated"  # no page fires any more; open at ticket level until resolved
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class EscalationLevel:
    after: float  # seconds without acknowledgement since the previous level (or opening)
    notify: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class IncidentPolicy:
    """The `incidents` section of the SLO file."""

    severity: tuple[tuple[str, Priority], ...] = (
        ("page-fast", Priority.P1), ("page-slow", Priority.P2), ("ticket-*", Priority.P3))
    escalation: tuple[EscalationLevel, ...] = ()
    repeat: int = 0  # times the escalation chain starts over after its last level
    reopen_within: float = 3600.0  # an alert firing this soon after resolution reopens
    inhibit: bool = True  # tickets of a series whose page fires neither open nor notify
    retention: float = 30 * 86400.0  # resolved incidents older than this (event time) leave

    def priority(self, rule: str, alert_severity: str) -> Priority:
        """The rule's priority: the first matching pattern, else P2 for a page, P3 otherwise."""
        for pattern, priority in self.severity:
            if fnmatch.fnmatchcase(rule, pattern):
                return priority
        return Priority.P2 if alert_severity == "page" else Priority.P3


class CommandError(ValueError):
    """A command that cannot be applied (unknown incident, missing field, bad value)."""


COMMANDS = ("ack", "resolve", "assign", "note", "silence")


@dataclass(slots=True)
class AlertState:
    id: str
    rule: str
    severity: str
    status: str
    started_at: str
    at: str
    burn_rate_long: float = 0.0
    burn_rate_short: float = 0.0
    error_budget_remaining: float = 1.0
    suppressed: str | None = None  # why it neither opens nor notifies: inhibited, silenced

    def export(self) -> IncidentAlert:
        return IncidentAlert(
            id=self.id, rule=self.rule, severity=self.severity,
            status="firing" if self.status == "firing" else "resolved",
            started_at=self.started_at, at=self.at, burn_rate_long=self.burn_rate_long,
            burn_rate_short=self.burn_rate_short,
            error_budget_remaining=self.error_budget_remaining,
            suppressed=self.suppressed or UNSET)


class TimelineEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One line of an incident's timeline (and of its postmortem's)."""

    at: str
    kind: str
    text: str
    by: str | UnsetType = UNSET


class DeployRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A recent deploy of a service, kept for the timelines and postmortems of its incidents."""

    at: str
    service: str
    version: str
    by: str | None


@dataclass(slots=True)
class Incident:
    id: str
    slo: str
    service: str
    series: dict[str, str]
    title: str
    priority: Priority
    status: Status
    opened_at: float
    labels: dict[str, str] = field(default_factory=dict)
    runbook_url: str | None = None
    acknowledged_at: float | None = None
    resolved_at: float | None = None
    mitigated_at: float | None = None  # when its pages last stopped (None: paging, or never)
    assignee: str | None = None
    escalation_level: int = 0  # levels notified so far (0: only the opening notification)
    escalation_due: float | None = None
    alerts: dict[str, AlertState] = field(default_factory=dict)
    timeline: list[TimelineEntry] = field(default_factory=list)
    budget_at_open: float = 1.0
    budget_now: float = 1.0
    detected_after: float | None = None  # seconds from burn onset to the opening page
    reopened: int = 0
    repaged: int = 0  # times a page fired again while it was mitigated
    bad_at_open: int | None = None  # bad events in the budget period, at opening
    bad_now: int | None = None  # ... and at the latest alert
    peak_burn_long: float = 0.0  # highest burn rates any of its alerts reported
    peak_burn_short: float = 0.0

    @property
    def bad_events(self) -> int | None:
        """Bad events counted while the incident lasted (from the alerts' period counts)."""
        if self.bad_at_open is None or self.bad_now is None:
            return None
        return max(0, self.bad_now - self.bad_at_open)

    @property
    def firing(self) -> list[AlertState]:
        return [a for a in self.alerts.values() if a.status == "firing"]

    def record_alert(self, state: AlertState) -> None:
        self.alerts[state.id] = state
        self.peak_burn_long = max(self.peak_burn_long, state.burn_rate_long)
        self.peak_burn_short = max(self.peak_burn_short, state.burn_rate_short)

    def note(self, at: float, kind: str, text: str, by: str | None = None) -> None:
        self.timeline.append(TimelineEntry(at=format_ts(at), kind=kind, text=text,
                                           by=by if by else UNSET))


def deploy_text(service: str, version: str) -> str:
    return f"deploy of {service} {version}"


def series_key(slo: str, series: Mapping[str, str]) -> str:
    return slo + "|" + ",".join(f"{k}={series[k]}" for k in sorted(series))


def incident_id(slo: str, series: Mapping[str, str], opened_at: float) -> str:
    digest = hashlib.sha1(f"{series_key(slo, series)}@{opened_at:.3f}".encode()).hexdigest()
    return "inc-" + digest[:12]
