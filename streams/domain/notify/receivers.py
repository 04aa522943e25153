"""Where incident events go and in what shape: receivers, routes and payload formats.

Pure: the HTTP delivery (retries, rate limits) lives in `streams.integrations.delivery`.
Formats: PagerDuty Events API v2, Alertmanager webhook v4, Slack-compatible text, raw JSON,
and alerts posted to an Alertmanager's own API (`alertmanager_api`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from msgspec import UNSET

from streams.domain.notify.alertmanager_api import PostableAlert, alertmanager_alerts
from streams.domain.notify.payloads import (
    AlertmanagerAlert,
    AlertmanagerWebhook,
    PagerDutyAlert,
    PagerDutyDetails,
    PagerDutyEvent,
    PagerDutyLink,
    PagerDutyPayload,
    SlackMessage,
)
from streams.wire.incidents import IncidentEvent

Format = Literal["pagerduty", "alertmanager", "slack", "raw", "alertmanager_api"]
PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
PAGERDUTY_SEVERITY = {"P1": "critical", "P2": "error", "P3": "warning"}


@dataclass(frozen=True, slots=True)
class Receiver:
    name: str
    format: Format
    url: str
    routing_key: str | None = None  # PagerDuty integration key (a secret: never logged)
    routing_key_env: str | None = None  # ... or the environment variable that holds it
    rate_per_minute: int = 120  # PagerDuty documents about 120 events a minute per key
    resend: float = 60.0  # alertmanager_api: seconds between re-sends of firing alerts

    def __repr__(self) -> str:  # keeps the routing key out of logs and tracebacks
        return f"Receiver(name={self.name!r}, format={self.format!r}, url={self.url!r})"


@dataclass(frozen=True, slots=True)
class Route:
    receiver: str
    match: tuple[tuple[str, str], ...] = ()  # labels (or service/slo/severity) that must equal


@dataclass(frozen=True, slots=True)
class NotifyConfig:
    receivers: dict[str, Receiver] = field(default_factory=dict)
    routes: tuple[Route, ...] = ()

    def receivers_for(self, incident: IncidentEvent,
                      escalation: Sequence[Sequence[str]] = ()) -> list[Receiver]:
        """Receivers of an incident event: the first matching route; for an escalation, the
        level's receivers instead (the route's receiver has been told already). Receivers
        paged by the escalation levels reached (`escalation`: each level's receiver names)
        also hear of the acknowledgement and the resolution."""
        if incident.event == "retired":
            return []  # retention: the record leaves, nothing happened to the incident
        if incident.event == "escalated":
            names = incident.notify or []
            return [self.receivers[name] for name in names if name in self.receivers]
        chosen: list[str] = []
        facts = {**incident.labels, "service": incident.service, "slo": incident.slo,
                 "severity": incident.severity}
        for route in self.routes:
            if all(facts.get(k) == v for k, v in route.match):
                chosen.append(route.receiver)
                break
        if incident.event in {"acknowledged", "mitigated", "resolved"} and escalation:
            for level in range(incident.escalation_level):
                chosen += [n for n in escalation[level % len(escalation)] if n not in chosen]
        return [self.receivers[name] for name in chosen if name in self.receivers]


def delivery_key(incident: IncidentEvent, receiver: str, seq: int) -> str:
    """Stable id of one delivery: the incident event numbered `seq` (two events of one
    incident can share a kind and a time) to this receiver."""
    text = f"{incident.id}|{incident.event}|{incident.at}|{seq}|{receiver}"
    return hashlib.sha1(text.encode()).hexdigest()[:20]


Payload = (PagerDutyEvent | AlertmanagerWebhook | SlackMessage | IncidentEvent
           | list[PostableAlert])


def payload(receiver: Receiver, incident: IncidentEvent, routing_key: str | None, *,
            now: float = 0.0, api_url: str = "") -> Payload | None:
    """The body for this receiver, or None when the event means nothing to it (`now` and the
    worker's `api_url`: for Alertmanager's API, a firing alert's `endsAt` and `generatorURL`)."""
    if receiver.format == "alertmanager_api":
        return alertmanager_alerts(incident, now, receiver.resend, api_url) or None
    if receiver.format == "pagerduty":
        return _pagerduty(incident, routing_key)
    if receiver.format == "alertmanager":
        return _alertmanager(incident)
    if receiver.format == "slack":
        return SlackMessage(_line(incident))
    return incident


PAGERDUTY_ACTIONS = {"opened": "trigger", "reopened": "trigger", "escalated": "trigger",
                     "acknowledged": "acknowledge", "mitigated": "resolve",
                     "resolved": "resolve"}


def _pagerduty(incident: IncidentEvent, routing_key: str | None) -> PagerDutyEvent | None:
    action = PAGERDUTY_ACTIONS.get(incident.event)
    if action is None:
        return None  # updates: PagerDuty keeps the first trigger's details
    if incident.event == "resolved" and isinstance(incident.mitigated_at, str):
        return None  # resolved in PagerDuty at the mitigation already
    if action != "trigger":
        return PagerDutyEvent(routing_key=routing_key, event_action=action, dedup_key=incident.id)
    details = PagerDutyDetails(
        slo=incident.slo, series=incident.series,
        error_budget_remaining=incident.error_budget_remaining,
        escalation_level=incident.escalation_level,
        alerts=[PagerDutyAlert(rule=a.rule, status=a.status, burn_rate_long=a.burn_rate_long,
                               burn_rate_short=a.burn_rate_short) for a in incident.alerts])
    return PagerDutyEvent(
        routing_key=routing_key, event_action=action, dedup_key=incident.id,
        payload=PagerDutyPayload(
            summary=f"[{incident.severity}] {incident.title}"[:1024],
            source=f"sre-streams/{incident.service}",
            severity=PAGERDUTY_SEVERITY.get(incident.severity, "warning"),
            timestamp=incident.opened_at, component=incident.service, group=incident.slo,
            event_class="slo-burn-rate", custom_details=details),
        links=_links(incident) or UNSET)


def _links(incident: IncidentEvent) -> list[PagerDutyLink]:
    """The SLO's runbook, then the suggested runbooks of the toil section that have a page."""
    links = [PagerDutyLink(href=incident.runbook_url, text="Runbook")] if incident.runbook_url else []
    for book in incident.runbooks or []:
        if book.url:
            links.append(PagerDutyLink(href=book.url, text=f"Suggested runbook: {book.name}"))
    return links


def _alertmanager(incident: IncidentEvent) -> AlertmanagerWebhook:
    labels = {**incident.labels, **incident.series, "alertname": incident.slo,
              "service": incident.service, "severity": incident.severity,
              "incident": incident.id}
    annotations = {"summary": incident.title, "incident_status": incident.status}
    if incident.runbook_url:
        annotations["runbook_url"] = incident.runbook_url
    status = "resolved" if incident.status == "resolved" else "firing"
    alert = AlertmanagerAlert(
        status=status, labels=labels, annotations=annotations, starts_at=incident.opened_at,
        ends_at=incident.resolved_at or "0001-01-01T00:00:00Z", generator_url="",
        fingerprint=hashlib.sha1(incident.id.encode()).hexdigest()[:16])
    return AlertmanagerWebhook(
        version="4", group_key=f"{{}}:{{incident=\"{incident.id}\"}}", truncated_alerts=0,
        status=status, receiver="sre-streams", group_labels={"incident": incident.id},
        common_labels=labels, common_annotations=annotations, external_url="", alerts=[alert])


def _line(incident: IncidentEvent) -> str:
    budget = 100 * float(incident.error_budget_remaining or 0)
    owner = f", assigned to {incident.assignee}" if incident.assignee else ""
    suggested = "".join(f"; try runbook {b.name}" + (f" <{b.url}>" if b.url else "")
                        for b in incident.runbooks or [])
    return (f"[{incident.severity}] {incident.event.upper()}: {incident.title} "
            f"(incident {incident.id}, budget {budget:.1f}% left{owner}){suggested}")
