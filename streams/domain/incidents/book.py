"""Incidents: alerts open, update and resolve them; people acknowledge, assign and annotate.

One open incident per SLO series. Time is event time throughout (alert `at`, command `ts`,
and the watermark for escalation timers), so a replay escalates exactly like live traffic.
`IncidentBook` is the state machine; it returns incident events (`sre.incidents` messages).
"""

from __future__ import annotations

import fnmatch
import hashlib
import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from streams.domain.timestamps import format_ts, parse_ts


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

    def export(self) -> dict[str, object]:
        exported: dict[str, object] = {
            "id": self.id, "rule": self.rule, "severity": self.severity, "status": self.status,
            "started_at": self.started_at, "at": self.at, "burn_rate_long": self.burn_rate_long,
            "burn_rate_short": self.burn_rate_short,
            "error_budget_remaining": self.error_budget_remaining}
        if self.suppressed:
            exported["suppressed"] = self.suppressed
        return exported


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
    assignee: str | None = None
    escalation_level: int = 0  # levels notified so far (0: only the opening notification)
    escalation_due: float | None = None
    alerts: dict[str, AlertState] = field(default_factory=dict)
    timeline: list[dict[str, object]] = field(default_factory=list)
    budget_at_open: float = 1.0
    budget_now: float = 1.0
    detected_after: float | None = None  # seconds from burn onset to the opening page
    reopened: int = 0
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
        entry: dict[str, object] = {"at": format_ts(at), "kind": kind, "text": text}
        if by:
            entry["by"] = by
        self.timeline.append(entry)


def deploy_text(service: str, version: str) -> str:
    return f"deploy of {service} {version}"


def series_key(slo: str, series: Mapping[str, object]) -> str:
    return slo + "|" + ",".join(f"{k}={series[k]}" for k in sorted(series))


def incident_id(slo: str, series: Mapping[str, object], opened_at: float) -> str:
    digest = hashlib.sha1(f"{series_key(slo, series)}@{opened_at:.3f}".encode()).hexdigest()
    return "inc-" + digest[:12]


class IncidentBook:
    """Every incident, keyed by id; at most one open (not resolved) per SLO series."""

    def __init__(self, policy: IncidentPolicy | None = None) -> None:
        self.policy = policy or IncidentPolicy()
        self.incidents: dict[str, Incident] = {}
        self.by_series: dict[str, str] = {}  # series key -> id of its latest incident
        self.deploys: dict[str, list[dict[str, object]]] = {}  # service -> recent deploys
        self.now: float | None = None  # the watermark: latest event time seen
        self.silences: dict[str, dict[str, Any]] = {}  # id -> silence (until expiry)
        self.suppressed: dict[str, AlertState] = {}  # firing alerts that opened nothing
        self.suppressed_series: dict[str, str] = {}  # ... their series keys
        self.silenced: dict[str, dict[str, Any]] = {}  # suppressed alert id -> its alert event
        self._timers: list[tuple[float, str]] = []  # heap of (escalation due, incident id)

    # -- inputs ----------------------------------------------------------------------------

    def on_alert(self, alert: Mapping[str, Any]) -> list[dict[str, object]]:
        """Apply an alert event (firing or resolved); returns incident events."""
        at = parse_ts(alert["at"])
        events = self.advance(at)
        slo, series = str(alert["slo"]), dict(alert.get("series") or {})
        key = series_key(slo, series)
        latest = self.incidents.get(self.by_series.get(key, ""))
        firing = alert["status"] == "firing"
        state = AlertState(
            id=str(alert["id"]), rule=str(alert["rule"]), severity=str(alert["severity"]),
            status=str(alert["status"]), started_at=str(alert.get("started_at", alert["at"])),
            at=str(alert["at"]), burn_rate_long=float(alert.get("burn_rate_long", 0.0)),
            burn_rate_short=float(alert.get("burn_rate_short", 0.0)),
            error_budget_remaining=float(alert.get("error_budget_remaining", 1.0)))
        priority = self.policy.priority(state.rule, state.severity)
        if not firing and self.suppressed.pop(state.id, None) is not None:
            self.suppressed_series.pop(state.id, None)
            self.silenced.pop(state.id, None)
            return events  # it opened nothing: its end is not news either
        if firing:
            state.suppressed = self._suppression(alert, state, latest, at)
            if state.suppressed and (latest is None or latest.status is Status.RESOLVED
                                     or state.suppressed.startswith("silenced")):
                self.suppressed[state.id] = state
                self.suppressed_series[state.id] = key
                self.silenced[state.id] = dict(alert)  # news again when a silence ends
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
            incident.note(at, "alert", f"{state.rule} ({state.severity}) firing: burn "
                          f"{state.burn_rate_long:.1f}x/{alert.get('long_window', '')} "
                          f"{state.burn_rate_short:.1f}x/{alert.get('short_window', '')}")
            if priority.rank > incident.priority.rank:
                before = incident.priority
                incident.priority = priority
                incident.note(at, "severity", f"severity raised from {before} to {priority}")
            return [*events, self._event(incident, "updated", at)]
        incident.note(at, "alert", f"{state.rule} resolved")
        if not incident.firing:
            return events + self._resolve(incident, at, "all alerts resolved", None)
        return [*events, self._event(incident, "updated", at)]

    def on_command(self, command: Mapping[str, Any]) -> list[dict[str, object]]:
        """Apply an operator command; raises CommandError when it cannot be applied."""
        name = command.get("command")
        if name not in COMMANDS:
            raise CommandError(f"unknown command {name!r}: expected one of {', '.join(COMMANDS)}")
        by = command.get("by")
        if not isinstance(by, str) or not by:
            raise CommandError("missing field 'by' (who issued the command)")
        try:
            at = parse_ts(command["ts"])
        except (KeyError, ValueError, TypeError) as exc:
            raise CommandError(f"bad or missing 'ts': {exc}") from None
        if name == "silence":
            self.silence(command, by, at)
            return self.advance(at)
        incident = self.incidents.get(str(command.get("incident")))
        if incident is None:
            raise CommandError(f"unknown incident {command.get('incident')!r}")
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
            assignee = command.get("assignee")
            if not isinstance(assignee, str) or not assignee:
                raise CommandError("assign needs 'assignee'")
            incident.assignee = assignee
            incident.note(at, "assign", f"assigned to {assignee} by {by}", by)
            return [*events, self._event(incident, "updated", at)]
        text = command.get("text")
        if not isinstance(text, str) or not text:
            raise CommandError("note needs 'text'")
        incident.note(at, "note", text, by)
        return [*events, self._event(incident, "updated", at)]

    def on_deploy(self, deploy: Mapping[str, Any]) -> list[dict[str, object]]:
        """Record a deploy; it appears in the timeline of the service's open incident."""
        at = parse_ts(deploy["ts"])
        service = str(deploy["service"])
        events = self.advance(at)
        record = {"at": format_ts(at), "service": service,
                  "version": str(deploy.get("version", "")), "by": deploy.get("by")}
        recent = self.deploys.setdefault(service, [])
        recent.append(record)
        del recent[:-20]
        for incident in self.incidents.values():
            if incident.service == service and incident.status is not Status.RESOLVED:
                incident.note(at, "deploy", deploy_text(service, str(record["version"])),
                              str(record["by"]) if record["by"] else None)
        return events

    def advance(self, now: float) -> list[dict[str, object]]:
        """Move the watermark to `now`: escalate incidents whose timers ran out, forget
        silences that expired."""
        if self.now is not None and now <= self.now:
            return []
        self.now = now
        events = []
        for ident in sorted((i for i, s in self.silences.items() if parse_ts(s["until"]) <= now),
                            key=lambda i: str(self.silences[i]["until"])):
            ended = self.silences.pop(ident)["until"]
            # Alerts it silenced that still fire are news now, as of its end.
            for alert_id in [a for a, st in self.suppressed.items()
                             if st.suppressed and st.suppressed.endswith(f"({ident})")]:
                del self.suppressed[alert_id]
                self.suppressed_series.pop(alert_id, None)
                alert = self.silenced.pop(alert_id, None)
                if alert is not None:
                    events += self.on_alert({**alert, "at": ended})
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

    def active_silences(self) -> list[dict[str, Any]]:
        return sorted(self.silences.values(), key=lambda s: str(s["until"]))

    # -- noise control ---------------------------------------------------------------------

    def silence(self, command: Mapping[str, Any], by: str, at: float) -> None:
        """Add a silence command's silence (validated; CommandError when refused)."""
        match = command.get("match")
        if (not isinstance(match, Mapping) or not match
                or not all(isinstance(k, str) and isinstance(v, str) for k, v in match.items())):
            raise CommandError("silence needs 'match': labels to match, as strings, e.g. "
                               "{\"service\": \"checkout\"}")
        try:
            until = parse_ts(command["until"])
        except (KeyError, ValueError, TypeError) as exc:
            raise CommandError(f"bad or missing 'until': {exc}") from None
        try:  # `from`: a later start (planned maintenance, or a replay's past); `ts` when sent
            starts = parse_ts(command["from"]) if "from" in command else at
        except (ValueError, TypeError) as exc:
            raise CommandError(f"bad 'from': {exc}") from None
        if until <= starts:
            raise CommandError("'until' must be after the start ('from', else 'ts')")
        comment = command.get("comment")
        if comment is not None and not isinstance(comment, str):
            raise CommandError("'comment' must be a string")
        digest = hashlib.sha1(f"{sorted(match.items())}|{at}|{by}".encode()).hexdigest()[:12]
        self.silences["sil-" + digest] = {
            "id": "sil-" + digest, "match": dict(match), "starts_at": format_ts(starts),
            "until": format_ts(until), "by": by, "comment": comment or ""}

    def _suppression(self, alert: Mapping[str, Any], state: AlertState,
                     latest: Incident | None, at: float) -> str | None:
        """Why a firing alert should neither open nor notify an incident, if it should not."""
        facts = {**{k: str(v) for k, v in (alert.get("labels") or {}).items()},
                 **{k: str(v) for k, v in (alert.get("series") or {}).items()},
                 "slo": str(alert["slo"]), "service": str(alert["service"]),
                 "rule": state.rule, "severity": state.severity}
        for silence in self.silences.values():
            if (parse_ts(silence["starts_at"]) <= at < parse_ts(silence["until"])
                    and all(facts.get(k) == v for k, v in silence["match"].items())):
                return f"silenced by {silence['by']} until {silence['until']} ({silence['id']})"
        if self.policy.inhibit and state.severity != "page":
            pages = [a for a in (latest.alerts.values() if latest is not None else ())
                     if a.severity == "page" and a.status == "firing"]
            key = series_key(str(alert["slo"]), alert.get("series") or {})
            pages += [a for a in self.suppressed.values()  # a silenced page still inhibits
                      if a.severity == "page" and self.suppressed_series.get(a.id) == key]
            if pages:
                return f"inhibited by {pages[0].rule}"
        return None

    # -- transitions -----------------------------------------------------------------------

    def _open(self, alert: Mapping[str, Any], state: AlertState, priority: Priority,
              at: float) -> list[dict[str, object]]:
        slo, series = str(alert["slo"]), dict(alert.get("series") or {})
        where = ",".join(f"{k}={v}" for k, v in series.items())
        annotations = alert.get("annotations") or {}
        incident = Incident(
            id=incident_id(slo, series, at), slo=slo, service=str(alert["service"]),
            series=series, title=f"{slo}{' {' + where + '}' if where else ''}: error budget burning",
            priority=priority, status=Status.OPEN, opened_at=at,
            labels=dict(alert.get("labels") or {}),
            runbook_url=annotations.get("runbook_url"),
            budget_at_open=state.error_budget_remaining, budget_now=state.error_budget_remaining,
            bad_at_open=_bad(alert, None), bad_now=_bad(alert, None))
        if "burning_since" in alert:
            incident.detected_after = max(0.0, at - parse_ts(alert["burning_since"]))
        incident.record_alert(state)
        incident.note(at, "alert", f"{state.rule} ({state.severity}) firing: burn "
                      f"{state.burn_rate_long:.1f}x/{alert.get('long_window', '')} "
                      f"{state.burn_rate_short:.1f}x/{alert.get('short_window', '')}")
        incident.note(at, "opened", f"incident opened as {priority}")
        incident.escalation_due = self._next_due(incident, at)
        self.incidents[incident.id] = incident
        self._schedule(incident)
        self.by_series[series_key(slo, series)] = incident.id
        return [self._event(incident, "opened", at)]

    def _reopen(self, incident: Incident, state: AlertState, priority: Priority, at: float,
                alert_bad: Mapping[str, Any]) -> list[dict[str, object]]:
        incident.status = Status.OPEN
        incident.resolved_at = None
        incident.acknowledged_at = None
        incident.reopened += 1
        incident.escalation_level = 0
        incident.priority = max(incident.priority, priority, key=lambda p: p.rank)
        incident.record_alert(state)
        incident.budget_now = state.error_budget_remaining
        incident.bad_now = _bad(alert_bad, incident.bad_now)
        incident.note(at, "reopened", f"{state.rule} firing again: incident reopened")
        incident.escalation_due = self._next_due(incident, at)
        self._schedule(incident)
        return [self._event(incident, "reopened", at)]

    def _resolve(self, incident: Incident, at: float, why: str,
                 by: str | None) -> list[dict[str, object]]:
        incident.status = Status.RESOLVED
        incident.resolved_at = at
        incident.escalation_due = None
        incident.note(at, "resolved", why, by)
        return [self._event(incident, "resolved", at)]

    def _next_due(self, incident: Incident, since: float) -> float | None:
        levels = self.policy.escalation
        if not levels or incident.escalation_level >= len(levels) * (1 + self.policy.repeat):
            return None
        return since + levels[incident.escalation_level % len(levels)].after

    # -- output ----------------------------------------------------------------------------

    def _event(self, incident: Incident, event: str, at: float,
               notify: list[str] | None = None) -> dict[str, object]:
        message: dict[str, object] = {
            "kind": "incident", "version": 1, "id": incident.id, "event": event,
            "status": str(incident.status), "severity": str(incident.priority),
            "title": incident.title, "service": incident.service, "slo": incident.slo,
            "series": dict(incident.series),
            "alerts": [a.export() for a in incident.alerts.values()],
            "opened_at": format_ts(incident.opened_at),
            "acknowledged_at": _ts(incident.acknowledged_at),
            "resolved_at": _ts(incident.resolved_at),
            "escalation_level": incident.escalation_level,
            "assignee": incident.assignee, "at": format_ts(at),
            "labels": dict(incident.labels),
            "error_budget_remaining": incident.budget_now,
            "error_budget_consumed": max(0.0, incident.budget_at_open - incident.budget_now),
            "bad_events": incident.bad_events,
            "detected_after": incident.detected_after,
        }
        if incident.runbook_url:
            message["runbook_url"] = incident.runbook_url
        if notify is not None:
            message["notify"] = notify
        return message

    def describe(self, incident: Incident) -> dict[str, object]:
        """The incident's current state, shaped as its events are (without `event`, `at`)."""
        view = self._event(incident, "", incident.opened_at)
        del view["event"], view["at"]
        return view

    def firing_alerts(self) -> list[dict[str, object]]:
        """Every alert firing now, with its SLO, series and incident."""
        found: dict[str, dict[str, object]] = {}
        for incident in sorted(self.incidents.values(), key=lambda i: i.opened_at):
            for alert in incident.alerts.values():
                found[alert.id] = {**alert.export(), "slo": incident.slo,
                                   "service": incident.service, "series": dict(incident.series),
                                   "incident": incident.id}
        for ident, state in self.suppressed.items():
            event = self.silenced.get(ident, {})
            found[ident] = {**state.export(), "slo": event.get("slo"), "service": event.get("service"),
                            "series": event.get("series") or {}, "incident": None}
        return [a for a in found.values() if a["status"] == "firing"]

    def stats(self) -> dict[str, object]:
        """MTTA, MTTR, time to detect and counts by severity, overall and per service."""
        def summary(incidents: list[Incident]) -> dict[str, object]:
            acked = [i.acknowledged_at - i.opened_at for i in incidents if i.acknowledged_at]
            fixed = [i.resolved_at - i.opened_at for i in incidents if i.resolved_at]
            detect = [i.detected_after for i in incidents if i.detected_after is not None]
            return {"incidents": len(incidents),
                    "open": sum(i.status is not Status.RESOLVED for i in incidents),
                    "by_severity": {p.value: sum(i.priority is p for i in incidents)
                                    for p in Priority},
                    "mtta_seconds": _mean(acked), "mttr_seconds": _mean(fixed),
                    "mttd_seconds": _mean(detect)}

        everything = list(self.incidents.values())
        services = sorted({i.service for i in everything})
        return {"overall": summary(everything),
                "services": {s: summary([i for i in everything if i.service == s])
                             for s in services}}


def _bad(alert: Mapping[str, Any], otherwise: int | None) -> int | None:
    value = alert.get("period_bad_events")
    return int(value) if isinstance(value, int) else otherwise


def _ts(value: float | None) -> str | None:
    return None if value is None else format_ts(value)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def incident_record(incident: Incident) -> dict[str, object]:
    """The incident as a JSON-ready record (state stored in the changelog)."""
    return {
        "id": incident.id, "slo": incident.slo, "service": incident.service,
        "series": incident.series, "title": incident.title, "priority": str(incident.priority),
        "status": str(incident.status), "opened_at": incident.opened_at, "labels": incident.labels,
        "runbook_url": incident.runbook_url, "acknowledged_at": incident.acknowledged_at,
        "resolved_at": incident.resolved_at, "assignee": incident.assignee,
        "escalation_level": incident.escalation_level,
        "escalation_due": incident.escalation_due,
        "alerts": [a.export() for a in incident.alerts.values()], "timeline": incident.timeline,
        "budget_at_open": incident.budget_at_open, "budget_now": incident.budget_now,
        "detected_after": incident.detected_after, "reopened": incident.reopened,
        "bad_at_open": incident.bad_at_open, "bad_now": incident.bad_now,
        "peak_burn_long": incident.peak_burn_long, "peak_burn_short": incident.peak_burn_short,
    }


def incident_from_record(record: Mapping[str, Any]) -> Incident:
    fields = dict(record)
    alerts = {str(a["id"]): AlertState(**a) for a in fields.pop("alerts")}
    fields["priority"] = Priority(fields["priority"])
    fields["status"] = Status(fields["status"])
    return Incident(alerts=alerts, **fields)


def book_meta(book: IncidentBook) -> dict[str, object]:
    """The book without its incidents (those are records of their own): the watermark, and
    maps keyed by series, service, silence or alert (stored a record per entry)."""
    return {"now": book.now, "by_series": book.by_series, "deploys": book.deploys,
            "silences": book.silences, "silenced": book.silenced,
            "suppressed": {a.id: {**a.export(), "series_key": book.suppressed_series.get(a.id, "")}
                           for a in book.suppressed.values()}}


def restore_book(book: IncidentBook, meta: Mapping[str, Any],
                 records: Sequence[Mapping[str, Any]]) -> None:
    book.now = meta.get("now")
    book.by_series = dict(meta.get("by_series") or {})
    book.deploys = {k: list(v) for k, v in (meta.get("deploys") or {}).items()}
    book.silences = {str(k): dict(v) for k, v in (meta.get("silences") or {}).items()}
    book.silenced = {str(k): dict(v) for k, v in (meta.get("silenced") or {}).items()}
    suppressed = meta.get("suppressed") or {}
    suppressed = [dict(a) for a in (suppressed.values() if isinstance(suppressed, Mapping)
                                    else suppressed)]  # (a list in the first layout)
    book.suppressed_series = {str(a["id"]): str(a.pop("series_key", "")) for a in suppressed}
    book.suppressed = {str(a["id"]): AlertState(**a) for a in suppressed}
    book.incidents = {str(r["id"]): incident_from_record(r) for r in records}
    book.reschedule()
