"""Firing alerts re-sent to Alertmanagers (`alertmanager_api` receivers), as Prometheus does.

Alertmanager resolves an alert whose `endsAt` passed, so the alerts of every incident not
resolved are posted again every receiver's `resend` (1m by default; each firing alert is
valid for four of them). Best effort and not stored: the next round repeats a failed one,
and the incident events themselves go through the stored, retried deliveries.
"""

from __future__ import annotations

import logging

import aiohttp

from streams.domain.incidents.book import IncidentBook, Status, incident_event
from streams.domain.notify.alertmanager_api import PostableAlert, alertmanager_alerts
from streams.domain.notify.receivers import NotifyConfig
from streams.integrations.delivery import send

log = logging.getLogger(__name__)


class AlertmanagerResender:
    def __init__(self, notify: NotifyConfig, api_url: str) -> None:
        self.notify = notify
        self.api_url = api_url
        self.receivers = {name: r for name, r in notify.receivers.items()
                          if r.format == "alertmanager_api"}
        self.due: dict[str, float] = {}  # receiver name -> next re-send (epoch seconds)

    @property
    def active(self) -> bool:
        return bool(self.receivers)

    def alerts(self, book: IncidentBook, now: float) -> dict[str, list[PostableAlert]]:
        """The alerts of incidents not resolved, for each receiver due (routes decide which)."""
        due = {name for name in self.receivers if self.due.get(name, 0.0) <= now}
        found: dict[str, list[PostableAlert]] = {name: [] for name in due}
        for name in due:
            self.due[name] = now + self.receivers[name].resend
        for incident in book.incidents.values():
            if incident.status is Status.RESOLVED:
                continue
            event = incident_event(incident, "updated", now)
            for receiver in self.notify.receivers_for(event):
                if receiver.name in found:
                    found[receiver.name] += alertmanager_alerts(event, now, receiver.resend,
                                                                self.api_url)
        return {name: alerts for name, alerts in found.items() if alerts}

    async def resend(self, session: aiohttp.ClientSession, book: IncidentBook,
                     now: float) -> None:
        for name, alerts in self.alerts(book, now).items():
            attempt = await send(session, self.receivers[name], alerts,
                                 f"resend-{name}-{int(now)}", 1)
            if attempt.outcome != "delivered":
                log.warning("re-sending %d alert(s) to %s failed (%s)", len(alerts), name,
                            attempt.status or attempt.detail)
