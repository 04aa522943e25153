"""The `capacity-runway` alert: a ticket while a service's capacity is `critical`.

It is an alert event like the burn-rate rules' (contracts §5), so incidents open, route and
notify as for any ticket alert. Its SLO is `capacity` and its series `{"service": ...,
"resource": ...}` (resource `requests` for request demand); the burn-rate fields carry the
runway instead: `threshold` is the lead time in days, `burn_rate_long` and `burn_rate_short`
the p90 and p50 runway in days (the horizon's days when capacity lasts it), and
`error_budget_remaining` is 1 (no budget is involved).
"""

from __future__ import annotations

from streams.domain.durations import format_duration
from streams.domain.engine.messages import alert_id
from streams.wire.alerts import Alert
from streams.wire.capacity import CapacityEvent

RULE = "capacity-runway"
SLO = "capacity"


def series_of(event: CapacityEvent) -> dict[str, str]:
    return {"service": event.service, "resource": event.resource or "requests"}


def runway_alert(event: CapacityEvent, horizon_days: float,
                 firing_since: str | None) -> tuple[Alert | None, str | None]:
    """The alert a capacity event makes given when the rule started firing (None: it is not
    firing), and the new start: firing when the status turns `critical`, resolved when it
    leaves it, nothing in between."""
    critical = event.status == "critical"
    if critical == (firing_since is not None):
        return None, firing_since
    started = event.at if critical else firing_since
    assert started is not None
    series = series_of(event)
    p90, p50 = event.runway_days.p90, event.runway_days.p50
    what = event.service if event.resource is None else f"{event.service} {event.resource}"
    summary = (f"{what}: capacity runs out in {p90:.1f} days (p90), under the lead time of "
               f"{event.lead_time_days:g} days" if critical and p90 is not None
               else f"{what}: capacity runway back over the lead time")
    lead = format_duration(event.lead_time_days * 86400)
    alert = Alert(
        id=alert_id(SLO, series, RULE), status="firing" if critical else "resolved", slo=SLO,
        service=event.service, series=series, rule=RULE, severity="ticket",
        long_window=lead, short_window=lead, threshold=event.lead_time_days,
        burn_rate_long=horizon_days if p90 is None else p90,
        burn_rate_short=horizon_days if p50 is None else p50,
        error_budget_remaining=1.0, at=event.at, started_at=started, labels={},
        annotations={"summary": summary})
    return alert, event.at if critical else None
