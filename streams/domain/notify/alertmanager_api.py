"""Alerts for a real Alertmanager's `POST /api/v2/alerts`, posted the way Prometheus posts them.

One Alertmanager alert per alert of the incident (not one per incident, as in the webhook
shape): labels identify the rule and series, so Alertmanager's own routing, grouping,
inhibition and silences apply. A firing alert's `endsAt` lies a few re-send intervals ahead
(Alertmanager resolves it by itself if the re-sends stop); a resolved one's is its resolution.
"""

from __future__ import annotations

import msgspec
from msgspec import UNSET, UnsetType

from streams.domain.timestamps import format_ts, parse_ts
from streams.wire.incidents import IncidentEvent

ALERTNAME = "ErrorBudgetBurn"
VALID_FOR = 4  # a firing alert is valid for this many re-send intervals (as Prometheus does)


class PostableAlert(msgspec.Struct, frozen=True, kw_only=True):
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: str = msgspec.field(name="startsAt")
    ends_at: str | UnsetType = msgspec.field(name="endsAt", default=UNSET)
    generator_url: str = msgspec.field(name="generatorURL")


def alertmanager_alerts(incident: IncidentEvent, now: float, resend: float,
                        api_url: str) -> list[PostableAlert]:
    """The incident's alerts as Alertmanager takes them, at `now` (for firing `endsAt`)."""
    ended = parse_ts(incident.resolved_at) if incident.resolved_at else None
    common = {**incident.labels, **incident.series, "alertname": ALERTNAME,
              "slo": incident.slo, "service": incident.service}
    found = []
    for alert in incident.alerts:
        labels = {**common, "rule": alert.rule, "severity": alert.severity}
        annotations = {
            "summary": f"{incident.title} ({alert.rule}, {alert.severity})",
            "burn_rate_long": f"{alert.burn_rate_long:.2f}",
            "burn_rate_short": f"{alert.burn_rate_short:.2f}",
            "error_budget_remaining": f"{alert.error_budget_remaining:.4f}",
            "incident": incident.id, "incident_status": incident.status}
        if incident.runbook_url:
            annotations["runbook_url"] = incident.runbook_url
        if alert.status == "resolved":
            ends = parse_ts(alert.at)
        else:
            ends = now + VALID_FOR * resend if ended is None else ended
        found.append(PostableAlert(
            labels=labels, annotations=annotations, starts_at=alert.started_at,
            ends_at=format_ts(ends), generator_url=f"{api_url.rstrip('/')}/v1/alerts"))
    return found
