"""Incidents: alerts open, update and resolve them; people acknowledge, assign and annotate.

One open incident per SLO series. Time is event time throughout (alert `at`, command `ts`,
and the watermark for escalation timers), so a replay escalates exactly like live traffic.
`IncidentBook` is the state machine; it returns incident events (`sre.incidents` messages).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping

import msgspec
from msgspec import UNSET

from streams.domain.incidents.mitigation import is_mitigation, is_repage, mitigate, repage
from streams.domain.incidents.model import (
    COMMANDS,
    AlertState,
    CommandError,
    DeployRecord,
    EscalationLevel,
    Incident,
    IncidentPolicy,
    Priority,
    Status,
    TimelineEntry,
    deploy_text,
    incident_id,
    series_key,
)
from streams.domain.incidents.records import book_meta, incident_record, restore_book
from streams.domain.incidents.retention import Retired
from streams.domain.incidents.silences import Silence, silence_of, suppression
from streams.domain.incidents.statistics import (
    IncidentStatistics,
    IncidentTimes,
    Totals,
    incident_statistics,
)
from streams.domain.timestamps import format_ts, parse_ts
from streams.wire.alerts import Alert
from streams.wire.commands import Command, Deploy
from streams.wire.incidents import IncidentAlert, IncidentChange, IncidentEvent

__all__ = [
    "AlertState", "CommandError", "DeployRecord", "EscalationLevel", "FiringAlert", "Incident",
    "IncidentBook", "IncidentPolicy", "Priority", "Silence", "Status", "TimelineEntry",
    "book_meta", "deploy_text", "incident_id", "incident_record", "restore_book", "series_key",
]

KEEP_DEPLOYS = 20  # recent deploys kept per service, for timelines and postmortems


class FiringAlert(IncidentAlert, frozen=True, kw_only=True):
    """An alert firing now, with its SLO, series and incident (None: it opened none)."""

    slo: str | None
    service: str | None
    series: dict[str, str]
    incident: str | None


def firing_alerts(incidents: Iterable[Incident], suppressed: Mapping[str, AlertState],
                  silenced: Mapping[str, Alert]) -> list[FiringAlert]:
    """Every alert firing now: those of incidents (oldest first), then those that opened
    nothing (silenced or inhibited), with the event that fired them where known."""
    found: dict[str, FiringAlert] = {}
    for incident in sorted(incidents, key=lambda i: i.opened_at):
        for alert in incident.alerts.values():
            found[alert.id] = FiringAlert(
                **msgspec.structs.asdict(alert.export()), slo=incident.slo,
                service=incident.service, series=dict(incident.series), incident=incident.id)
    for ident, state in suppressed.items():
        event = silenced.get(ident)
        found[ident] = FiringAlert(
            **msgspec.structs.asdict(state.export()),
            slo=event.slo if event else None, service=event.service if event else None,
            series=dict(event.series) if event else {}, incident=None)
    return [a for a in found.values() if a.status == "firing"]


class IncidentBook:
    """Every incident, keyed by id; at most one open (not resolved) per SLO series."""

    def __init__(self, policy: IncidentPolicy | None = None) -> None:
        self.policy = policy or IncidentPolicy()
        self.incidents: dict[str, Incident] = {}
        self.by_series: dict[str, str] = {}  # series key -> id of its latest incident
        self.deploys: dict[str, list[DeployRecord]] = {}  # service -> recent deploys
        self.now: float | None = None  # the watermark: latest event time seen
        self.silences: dict[str, Silence] = {}  # id -> silence (until expiry)
        self.suppressed: dict[str, AlertState] = {}  # firing alerts that opened nothing
        self.suppressed_series: dict[str, str] = {}  # ... their series keys
        self.silenced: dict[str, Alert] = {}  # suppressed alert id -> its alert event
        self._timers: list[tuple[float, str]] = []  # heap of (escalation due, incident id)
        self.retired = Retired(self.policy.retention)  # resolutions due to leave, and totals

    # -- inputs ----------------------------------------------------------------------------

    def on_alert(self, alert: Alert) -> list[IncidentEvent]:
        """Apply an alert event (firing or resolved); returns incident events."""
        at = parse_ts(alert.at)
        events = self.advance(at)
        key = series_key(alert.slo, alert.series)
        latest = self.incidents.get(self.by_series.get(key, ""))
        firing = alert.status == "firing"
        state = AlertState(
            id=alert.id, rule=alert.rule, severity=alert.severity, status=alert.status,
            started_at=alert.started_at, at=alert.at, burn_rate_long=alert.burn_rate_long,
            burn_rate_short=alert.burn_rate_short,
            error_budget_remaining=alert.error_budget_remaining)
        priority = self.policy.priority(state.rule, state.severity)
        if not firing and self.suppressed.pop(state.id, None) is not None:
            self.suppressed_series.pop(state.id, None)
            self.silenced.pop(state.id, None)
            return events  # it opened nothing: its end is not news either
        if firing:
            # Why it should neither open nor notify an incident, if it should not.
            state.suppressed = suppression(
                alert, state, latest, at, self.silences.values(), self.policy.inhibit,
                (a for a in self.suppressed.values() if self.suppressed_series.get(a.id) == key))
            if state.suppressed and (latest is None or latest.status is Status.RESOLVED
                                     or state.suppressed.startswith("silenced")):
                self.suppressed[state.id] = state
                self.suppressed_series[state.id] = key
                self.silenced[state.id] = alert  # news again when a silence ends
                return events
            if state.suppressed and latest is not None:
                latest.record_alert(state)  # inhibited: kept with its incident, not announced
                latest.note(at, "alert", f"{state.rule} ({state.severity}) firing, "
                            f"{state.suppressed}")
                return events
        if latest is None or latest.status is Status.RESOLVED:
            if not firing:
                if latest is not None and state.id in latest.alerts:
                    latest.alerts[state.id] = state  # a late resolution: recorded, no event
                return events
            if (latest is not None and latest.resolved_at is not None
                    and at - latest.resolved_at <= self.policy.reopen_within):
                return events + self._reopen(latest, state, priority, at, alert)
            return events + self._open(alert, state, priority, at)
        incident = latest
        incident.record_alert(state)
        incident.budget_now = state.error_budget_remaining
        incident.bad_now = _bad(alert, incident.bad_now)
        if firing:
            incident.note(at, "alert", _firing_text(state, alert))
            if priority.rank > incident.priority.rank:
                before = incident.priority
                incident.priority = priority
                incident.note(at, "severity", f"severity raised from {before} to {priority}")
            if is_repage(incident, state):
                repage(incident, state, at)
                incident.escalation_due = self._next_due(incident, at)
                self._schedule(incident)
                return [*events, self._event(incident, "reopened", at)]
            return [*events, self._event(incident, "updated", at)]
        incident.note(at, "alert", f"{state.rule} resolved")
        if not incident.firing:
            return events + self._resolve(incident, at, "all alerts resolved", None)
        if is_mitigation(incident, state):
            mitigate(incident, at)
            return [*events, self._event(incident, "mitigated", at)]
        return [*events, self._event(incident, "updated", at)]

    def on_command(self, command: Command) -> list[IncidentEvent]:
        """Apply an operator command; raises CommandError when it cannot be applied."""
        name = command.command
        if name not in COMMANDS:
            raise CommandError(f"unknown command {name!r}: expected one of {', '.join(COMMANDS)}")
        by = command.by
        if not by:
            raise CommandError("missing field 'by' (who issued the command)")
        try:
            at = parse_ts(command.ts)
        except (ValueError, TypeError) as exc:
            raise CommandError(f"bad or missing 'ts': {exc}") from None
        if name == "silence":
            self.silence(command, by, at)
            return self.advance(at)
        ident = None if command.incident is UNSET else command.incident
        incident = self.incidents.get(str(ident))
        if incident is None:
            raise CommandError(f"unknown incident {ident!r}")
        events = self.advance(at)
        at = max(at, incident.opened_at)
        if name == "ack":
            if incident.status is not Status.OPEN:
                raise CommandError(f"incident {incident.id} is {incident.status}, not open")
            incident.status = Status.ACKNOWLEDGED
            incident.acknowledged_at = at
            incident.escalation_due = None
            incident.note(at, "ack", f"acknowledged by {by}", by)
            return [*events, self._event(incident, "acknowledged", at)]
        if name == "resolve":
            if incident.status is Status.RESOLVED:
                raise CommandError(f"incident {incident.id} is already resolved")
            return events + self._resolve(incident, at, f"resolved by {by}", by)
        if name == "assign":
            if command.assignee is UNSET or not command.assignee:
                raise CommandError("assign needs 'assignee'")
            incident.assignee = command.assignee
            incident.note(at, "assign", f"assigned to {command.assignee} by {by}", by)
            return [*events, self._event(incident, "updated", at)]
        if command.text is UNSET or not command.text:
            raise CommandError("note needs 'text'")
        incident.note(at, "note", command.text, by)
        return [*events, self._event(incident, "updated", at)]

    def on_deploy(self, deploy: Deploy) -> list[IncidentEvent]:
        """Record a deploy; it appears in the timeline of the service's open incident."""
        at = parse_ts(deploy.ts)
        events = self.advance(at)
        record = DeployRecord(at=format_ts(at), service=deploy.service,
                              version=deploy.version or "", by=deploy.by or None)
        recent = self.deploys.setdefault(deploy.service, [])
        recent.append(record)
        del recent[:-KEEP_DEPLOYS]
        for incident in self.incidents.values():
            if incident.service == deploy.service and incident.status is not Status.RESOLVED:
                incident.note(at, "deploy", deploy_text(deploy.service, record.version),
                              record.by)
        return events

    def advance(self, now: float) -> list[IncidentEvent]:
        """Move the watermark to `now`: escalate incidents whose timers ran out, forget
        silences that expired."""
        if self.now is not None and now <= self.now:
            return []
        self.now = now
        events = []
        for ident in sorted((i for i, s in self.silences.items() if parse_ts(s.until) <= now),
                            key=lambda i: self.silences[i].until):
            ended = self.silences.pop(ident).until
            # Alerts it silenced that still fire are news now, as of its end.
            for alert_id in [a for a, st in self.suppressed.items()
                             if st.suppressed and st.suppressed.endswith(f"({ident})")]:
                del self.suppressed[alert_id]
                self.suppressed_series.pop(alert_id, None)
                alert = self.silenced.pop(alert_id, None)
                if alert is not None:
                    events += self.on_alert(msgspec.structs.replace(alert, at=ended))
        levels = self.policy.escalation
        due: dict[str, float] = {}  # incidents whose timer ran out (the heap: none are walked)
        while self._timers and self._timers[0][0] <= now:
            at, ident = heapq.heappop(self._timers)
            incident = self.incidents.get(ident)
            if (incident is not None and incident.status is Status.OPEN
                    and incident.escalation_due == at):  # else a timer since reset or stopped
                due.setdefault(ident, at)
        for ident in sorted(due, key=lambda i: (due[i], i)):
            incident = self.incidents[ident]
            while (incident.status is Status.OPEN and incident.escalation_due is not None
                   and incident.escalation_due <= now):
                when = incident.escalation_due
                incident.escalation_level += 1
                level = levels[(incident.escalation_level - 1) % len(levels)]
                incident.note(when, "escalation", f"not acknowledged: escalated to level "
                              f"{incident.escalation_level} ({', '.join(level.notify)})")
                events.append(self._event(incident, "escalated", when, notify=list(level.notify)))
                incident.escalation_due = self._next_due(incident, when)
            self._schedule(incident)
        return events + self._retire(now)

    def _retire(self, now: float) -> list[IncidentEvent]:
        """Resolved incidents past retention leave the book; their statistics stay behind."""
        events = []
        for incident in self.retired.expired(self.incidents, now):
            totals = Totals()
            totals.count(_times(incident))
            self.retired.retire(totals, incident.service)
            assert incident.resolved_at is not None
            events.append(self._event(incident, "retired",
                                      incident.resolved_at + self.retired.retention))
            del self.incidents[incident.id]
            key = series_key(incident.slo, incident.series)
            if self.by_series.get(key) == incident.id:
                del self.by_series[key]
        return events

    def _schedule(self, incident: Incident) -> None:
        """Put the incident's escalation timer on the heap (`advance` drops stale ones)."""
        if incident.escalation_due is not None:
            heapq.heappush(self._timers, (incident.escalation_due, incident.id))

    def reschedule(self) -> None:
        """Rebuild the timers from the incidents (after they were restored)."""
        self._timers = [(i.escalation_due, i.id) for i in self.incidents.values()
                        if i.escalation_due is not None]
        heapq.heapify(self._timers)
        self.retired.rebuild(self.incidents.values())

    def active_silences(self) -> list[Silence]:
        return sorted(self.silences.values(), key=lambda s: s.until)

    # -- noise control ---------------------------------------------------------------------

    def silence(self, command: Command, by: str, at: float) -> None:
        """Add a silence command's silence (validated; CommandError when refused)."""
        silence = silence_of(command, by, at)
        self.silences[silence.id] = silence

    # -- transitions -----------------------------------------------------------------------

    def _open(self, alert: Alert, state: AlertState, priority: Priority,
              at: float) -> list[IncidentEvent]:
        slo, series = alert.slo, dict(alert.series)
        where = ",".join(f"{k}={v}" for k, v in series.items())
        incident = Incident(
            id=incident_id(slo, series, at), slo=slo, service=alert.service,
            series=series, title=_title(alert, where),
            priority=priority, status=Status.OPEN, opened_at=at, labels=dict(alert.labels),
            runbook_url=alert.annotations.get("runbook_url"),
            budget_at_open=state.error_budget_remaining, budget_now=state.error_budget_remaining,
            bad_at_open=_bad(alert, None), bad_now=_bad(alert, None))
        if alert.burning_since is not UNSET:
            incident.detected_after = max(0.0, at - parse_ts(alert.burning_since))
        incident.record_alert(state)
        incident.note(at, "alert", _firing_text(state, alert))
        incident.note(at, "opened", f"incident opened as {priority}")
        incident.escalation_due = self._next_due(incident, at)
        self.incidents[incident.id] = incident
        self._schedule(incident)
        self.by_series[series_key(slo, series)] = incident.id
        return [self._event(incident, "opened", at)]

    def _reopen(self, incident: Incident, state: AlertState, priority: Priority, at: float,
                alert: Alert) -> list[IncidentEvent]:
        incident.status = Status.OPEN
        incident.resolved_at = None
        incident.mitigated_at = None
        incident.acknowledged_at = None
        incident.reopened += 1
        incident.escalation_level = 0
        incident.priority = max(incident.priority, priority, key=lambda p: p.rank)
        incident.record_alert(state)
        incident.budget_now = state.error_budget_remaining
        incident.bad_now = _bad(alert, incident.bad_now)
        incident.note(at, "reopened", f"{state.rule} firing again: incident reopened")
        incident.escalation_due = self._next_due(incident, at)
        self._schedule(incident)
        return [self._event(incident, "reopened", at)]

    def _resolve(self, incident: Incident, at: float, why: str,
                 by: str | None) -> list[IncidentEvent]:
        incident.status = Status.RESOLVED
        incident.resolved_at = at
        incident.escalation_due = None
        incident.note(at, "resolved", why, by)
        self.retired.watch(incident)
        return [self._event(incident, "resolved", at)]

    def _next_due(self, incident: Incident, since: float) -> float | None:
        levels = self.policy.escalation
        if not levels or incident.escalation_level >= len(levels) * (1 + self.policy.repeat):
            return None
        return since + levels[incident.escalation_level % len(levels)].after

    # -- output ----------------------------------------------------------------------------

    def _event(self, incident: Incident, event: IncidentChange, at: float,
               notify: list[str] | None = None) -> IncidentEvent:
        return incident_event(incident, event, at, notify)

    def describe(self, incident: Incident) -> dict[str, object]:
        """The incident's current state, shaped as its events are (without `event`, `at`)."""
        view = msgspec.to_builtins(incident_event(incident, "opened", incident.opened_at))
        del view["event"], view["at"]
        return view  # type: ignore[no-any-return]

    def firing_alerts(self) -> list[FiringAlert]:
        """Every alert firing now, with its SLO, series and incident."""
        return firing_alerts(self.incidents.values(), self.suppressed, self.silenced)

    def stats(self) -> IncidentStatistics:
        """MTTA, time to mitigate, time to resolve (MTTR), time to detect and counts by
        severity, overall and per service."""
        return incident_statistics((_times(i) for i in self.incidents.values()),
                                   self.retired.totals)


def incident_event(incident: Incident, event: IncidentChange, at: float,
                   notify: list[str] | None = None) -> IncidentEvent:
    """The incident's `sre.incidents` message after a change."""
    return IncidentEvent(
        id=incident.id, event=event, status=incident.status.value,
        severity=incident.priority.value, title=incident.title, service=incident.service,
        slo=incident.slo, series=dict(incident.series),
        alerts=[a.export() for a in incident.alerts.values()],
        opened_at=format_ts(incident.opened_at), acknowledged_at=_ts(incident.acknowledged_at),
        resolved_at=_ts(incident.resolved_at), mitigated_at=_ts(incident.mitigated_at) or UNSET,
        escalation_level=incident.escalation_level,
        assignee=incident.assignee, at=format_ts(at), labels=dict(incident.labels),
        error_budget_remaining=incident.budget_now,
        error_budget_consumed=max(0.0, incident.budget_at_open - incident.budget_now),
        bad_events=incident.bad_events, detected_after=incident.detected_after,
        runbook_url=incident.runbook_url or UNSET,
        notify=notify if notify is not None else UNSET)


def _times(i: Incident) -> IncidentTimes:
    return IncidentTimes(i.service, i.priority.value, i.status is Status.RESOLVED, i.opened_at,
                         i.acknowledged_at, i.resolved_at, i.detected_after, i.mitigated_at)


def _firing_text(state: AlertState, alert: Alert) -> str:
    return (f"{state.rule} ({state.severity}) firing: burn {state.burn_rate_long:.1f}x/"
            f"{alert.long_window} {state.burn_rate_short:.1f}x/{alert.short_window}")


def _bad(alert: Alert, otherwise: int | None) -> int | None:
    return alert.period_bad_events if isinstance(alert.period_bad_events, int) else otherwise


def _ts(value: float | None) -> str | None:
    return None if value is None else format_ts(value)


def _title(alert: Alert, where: str) -> str:
    """An incident's title: its SLO series and what is wrong with it."""
    what = "capacity runway under the lead time" if alert.rule == "capacity-runway" \
        else "error budget burning"
    return f"{alert.slo}{' {' + where + '}' if where else ''}: {what}"
