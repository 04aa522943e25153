"""Runbooks that run: which runbooks an incident matches, and which of them may run now.

An `auto` runbook runs once per matching incident, when the incident opens (or reopens), at
most `max_per_hour` times in any hour of event time across incidents; a `suggest` runbook only
appears on the incident (its name and link reach the pager). Pure: the runtime turns each
`Run` into a delivery (retries, stored outcome, exactly once across restarts).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from streams.domain.toil.config import Runbook, ToilConfig
from streams.wire.incidents import IncidentEvent

HOUR = 3600.0
STARTS = frozenset({"opened", "reopened"})
_FIELDS = ("service", "slo", "incident", "rule", "severity", "title")


@dataclass(frozen=True, slots=True)
class Run:
    """A runbook to call for an incident: `key` identifies it (the Idempotency-Key)."""

    runbook: str
    incident: str
    at: float
    key: str


@dataclass(frozen=True, slots=True)
class Decision:
    runs: tuple[Run, ...] = ()
    held: tuple[str, ...] = ()  # auto runbooks over their hourly limit (timeline notes)
    suggested: tuple[Runbook, ...] = ()


class RunbookState(msgspec.Struct, kw_only=True):
    """What survives a restart: when each runbook ran, and which incidents it ran for."""

    ran_at: dict[str, list[float]] = msgspec.field(default_factory=dict)  # runbook -> times
    ran_for: dict[str, list[str]] = msgspec.field(default_factory=dict)  # incident -> runbooks


def matches(runbook: Runbook, incident: IncidentEvent) -> bool:
    """Every field the runbook's match gives equals the incident's (a rule: any of its alerts')."""
    match = runbook.match
    severities = {incident.severity, *(a.severity for a in incident.alerts)}
    labels = {**incident.labels, **incident.series}
    return ((match.slo is None or match.slo == incident.slo)
            and (match.service is None or match.service == incident.service)
            and (match.rule is None or any(a.rule == match.rule for a in incident.alerts))
            and (match.severity is None or match.severity in severities)
            and all(labels.get(key) == value for key, value in match.labels))


def run_key(runbook: str, incident: str) -> str:
    return f"runbook:{runbook}:{incident}"


class RunbookPlanner:
    """Decides runs as incident events happen, in event time."""

    def __init__(self, config: ToilConfig, state: RunbookState | None = None) -> None:
        self.runbooks = config.runbooks
        self.state = state if state is not None else RunbookState()

    def on_incident(self, event: IncidentEvent, at: float) -> Decision:
        chosen = [book for book in self.runbooks if matches(book, event)]
        suggested = tuple(book for book in chosen if book.mode == "suggest")
        if event.event not in STARTS:
            return Decision(suggested=suggested)
        runs: list[Run] = []
        held: list[str] = []
        done = self.state.ran_for.setdefault(event.id, [])
        for book in chosen:
            if book.mode != "auto" or book.name in done:
                continue
            recent = [t for t in self.state.ran_at.get(book.name, []) if t > at - HOUR]
            if len(recent) >= book.max_per_hour:
                held.append(book.name)
                self.state.ran_at[book.name] = recent
                continue
            self.state.ran_at[book.name] = [*recent, at]
            done.append(book.name)
            runs.append(Run(book.name, event.id, at, run_key(book.name, event.id)))
        if not done:
            del self.state.ran_for[event.id]
        return Decision(tuple(runs), tuple(held), suggested)

    def forget(self, incidents: Iterable[str]) -> None:
        """Incidents gone from memory (retention): their runs are no longer needed."""
        for ident in incidents:
            self.state.ran_for.pop(ident, None)


def request_body(template: Any, incident: IncidentEvent) -> Any:
    """The action's JSON body with `{service}`, `{slo}`, `{incident}`, `{rule}`, `{severity}`
    and `{title}` filled in from the incident (strings only; anything else as written)."""
    values = {"service": incident.service, "slo": incident.slo, "incident": incident.id,
              "rule": incident.alerts[0].rule if incident.alerts else "",
              "severity": incident.severity, "title": incident.title}
    return _fill(template, values)


def _fill(value: Any, values: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        for name in _FIELDS:
            value = value.replace("{" + name + "}", values[name])
        return value
    if isinstance(value, list):
        return [_fill(item, values) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, values) for key, item in value.items()}
    return value
