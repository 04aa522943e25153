"""Mitigation: an incident whose pages stopped firing while its tickets still fire.

The pages' receivers hear the end of the page (PagerDuty a `resolve` of the same `dedup_key`);
the incident stays open at ticket level until its remaining alerts resolve or a command
resolves it. A page firing again before that sends it back to `open`, and pages again.
"""

from __future__ import annotations

from streams.domain.incidents.model import AlertState, Incident, Status

PAGING = (Status.OPEN, Status.ACKNOWLEDGED)


def pages_firing(incident: Incident) -> list[AlertState]:
    return [a for a in incident.alerts.values() if a.severity == "page" and a.status == "firing"]


def is_mitigation(incident: Incident, resolved: AlertState) -> bool:
    """Whether this resolution ends the incident's paging while other alerts still fire."""
    return (resolved.severity == "page" and incident.status in PAGING
            and not pages_firing(incident) and bool(incident.firing))


def mitigate(incident: Incident, at: float) -> None:
    """No page fires any more: escalation stops; tickets inhibited by a page are not now."""
    incident.status = Status.MITIGATED
    incident.mitigated_at = at
    incident.escalation_due = None
    for alert in incident.firing:
        if alert.suppressed and alert.suppressed.startswith("inhibited"):
            alert.suppressed = None
    still = ", ".join(sorted(a.rule for a in incident.firing))
    incident.note(at, "mitigated", f"no page fires any more: mitigated ({still} still firing)")


def is_repage(incident: Incident, firing: AlertState) -> bool:
    return firing.severity == "page" and incident.status is Status.MITIGATED


def repage(incident: Incident, firing: AlertState, at: float) -> None:
    """A page fires again during the mitigation: open again, paged and escalated anew."""
    incident.status = Status.OPEN
    incident.mitigated_at = None
    incident.acknowledged_at = None
    incident.escalation_level = 0
    incident.repaged += 1
    incident.note(at, "repaged", f"{firing.rule} firing again during the mitigation: paged again")
