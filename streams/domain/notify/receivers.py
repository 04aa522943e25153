"""Where incident events go and in what shape: receivers, routes and payload formats.

Pure: the HTTP delivery (retries, rate limits) lives in `streams.integrations.delivery`.
Formats: PagerDuty Events API v2, Alertmanager webhook v4, Slack-compatible text, raw JSON.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Format = Literal["pagerduty", "alertmanager", "slack", "raw"]
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

    def receivers_for(self, incident: Mapping[str, Any],
                      escalation: Sequence[Sequence[str]] = ()) -> list[Receiver]:
        """Receivers of an incident event: the first matching route; for an escalation, the
        level's receivers instead (the route's receiver has been told already). Receivers
        paged by the escalation levels reached (`escalation`: each level's receiver names)
        also hear of the acknowledgement and the resolution."""
        if incident.get("event") == "escalated":
            names = [str(name) for name in incident.get("notify") or []]
            return [self.receivers[name] for name in names if name in self.receivers]
        chosen: list[str] = []
        facts = {**{k: str(v) for k, v in (incident.get("labels") or {}).items()},
                 "service": str(incident.get("service")), "slo": str(incident.get("slo")),
                 "severity": str(incident.get("severity"))}
        for route in self.routes:
            if all(facts.get(k) == v for k, v in route.match):
                chosen.append(route.receiver)
                break
        if incident.get("event") in {"acknowledged", "resolved"} and escalation:
            reached = int(incident.get("escalation_level") or 0)
            for level in range(reached):
                chosen += [n for n in escalation[level % len(escalation)] if n not in chosen]
        return [self.receivers[name] for name in chosen if name in self.receivers]


def delivery_key(incident: Mapping[str, Any], receiver: str, seq: int) -> str:
    """Stable id of one delivery: the incident event numbered `seq` (two events of one
    incident can share a kind and a time) to this receiver."""
    text = f"{incident['id']}|{incident['event']}|{incident['at']}|{seq}|{receiver}"
    return hashlib.sha1(text.encode()).hexdigest()[:20]


def payload(receiver: Receiver, incident: Mapping[str, Any],
            routing_key: str | None) -> dict[str, Any] | None:
    """The body for this receiver, or None when the event means nothing to it."""
    if receiver.format == "pagerduty":
        return _pagerduty(incident, routing_key)
    if receiver.format == "alertmanager":
        return _alertmanager(incident)
    if receiver.format == "slack":
        return {"text": _line(incident)}
    return dict(incident)


def _pagerduty(incident: Mapping[str, Any], routing_key: str | None) -> dict[str, Any] | None:
    event = incident["event"]
    action = {"opened": "trigger", "reopened": "trigger", "escalated": "trigger",
              "acknowledged": "acknowledge", "resolved": "resolve"}.get(str(event))
    if action is None:
        return None  # updates: PagerDuty keeps the first trigger's details
    body: dict[str, Any] = {"routing_key": routing_key, "event_action": action,
                            "dedup_key": incident["id"]}
    if action == "trigger":
        alerts = incident.get("alerts") or []
        body["payload"] = {
            "summary": f"[{incident['severity']}] {incident['title']}"[:1024],
            "source": f"sre-streams/{incident['service']}",
            "severity": PAGERDUTY_SEVERITY.get(str(incident["severity"]), "warning"),
            "timestamp": incident["opened_at"],
            "component": incident["service"],
            "group": incident["slo"],
            "class": "slo-burn-rate",
            "custom_details": {
                "slo": incident["slo"], "series": incident.get("series"),
                "error_budget_remaining": incident.get("error_budget_remaining"),
                "escalation_level": incident.get("escalation_level"),
                "alerts": [{"rule": a["rule"], "status": a["status"],
                            "burn_rate_long": a["burn_rate_long"],
                            "burn_rate_short": a["burn_rate_short"]} for a in alerts],
            },
        }
        if incident.get("runbook_url"):
            body["links"] = [{"href": incident["runbook_url"], "text": "Runbook"}]
    return body


def _alertmanager(incident: Mapping[str, Any]) -> dict[str, Any]:
    resolved = incident["status"] == "resolved"
    labels = {**{k: str(v) for k, v in (incident.get("labels") or {}).items()},
              **{k: str(v) for k, v in (incident.get("series") or {}).items()},
              "alertname": str(incident["slo"]), "service": str(incident["service"]),
              "severity": str(incident["severity"]), "incident": str(incident["id"])}
    annotations = {"summary": str(incident["title"])}
    if incident.get("runbook_url"):
        annotations["runbook_url"] = str(incident["runbook_url"])
    alert = {"status": "resolved" if resolved else "firing", "labels": labels,
             "annotations": annotations, "startsAt": incident["opened_at"],
             "endsAt": incident.get("resolved_at") or "0001-01-01T00:00:00Z",
             "generatorURL": "", "fingerprint": hashlib.sha1(
                 str(incident["id"]).encode()).hexdigest()[:16]}
    return {"version": "4", "groupKey": f"{{}}:{{incident=\"{incident['id']}\"}}",
            "truncatedAlerts": 0, "status": alert["status"], "receiver": "sre-streams",
            "groupLabels": {"incident": str(incident["id"])}, "commonLabels": labels,
            "commonAnnotations": annotations, "externalURL": "", "alerts": [alert]}


def _line(incident: Mapping[str, Any]) -> str:
    budget = 100 * float(incident.get("error_budget_remaining") or 0)
    owner = f", assigned to {incident['assignee']}" if incident.get("assignee") else ""
    return (f"[{incident['severity']}] {str(incident['event']).upper()}: {incident['title']} "
            f"(incident {incident['id']}, budget {budget:.1f}% left{owner})")
