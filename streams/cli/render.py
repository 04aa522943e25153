"""Output messages as one human line each (`tail`, `demo`)."""

from __future__ import annotations

import msgspec
import orjson

from streams.wire.alerts import Alert
from streams.wire.budgets import BudgetSnapshot
from streams.wire.dead_letter import DeadLetter
from streams.wire.incidents import IncidentEvent

Rendered = Alert | BudgetSnapshot | IncidentEvent | DeadLetter  # told apart by `kind`


def render_alert(alert: Alert) -> str:
    series = ",".join(f"{k}={v}" for k, v in alert.series.items())
    where = f"{alert.slo}{{{series}}}"
    if alert.firing:
        return (f"{alert.at}  FIRING   {alert.severity:<6} {where} {alert.rule}"
                f"  burn {alert.burn_rate_long:.1f}x/{alert.long_window} "
                f"{alert.burn_rate_short:.1f}x/{alert.short_window}"
                f"  budget {100 * alert.error_budget_remaining:.1f}%")
    return f"{alert.at}  resolved {alert.severity:<6} {where} {alert.rule}"


def render_incident(incident: IncidentEvent) -> str:
    event = incident.event
    detail = ""
    if event == "escalated":
        notify = [] if isinstance(incident.notify, msgspec.UnsetType) else incident.notify
        detail = f"  level {incident.escalation_level} -> {', '.join(notify)}"
    elif event == "mitigated":
        still = sorted(a.rule for a in incident.alerts if a.status == "firing")
        detail = f"  pages ended; still firing: {', '.join(still) or '-'}"
    elif event == "resolved":
        detail = (f"  budget consumed {100 * incident.error_budget_consumed:.2f}%, "
                  f"{incident.bad_events or 0:,} failed requests")
    return (f"{incident.at}  incident {event.upper() if event == 'opened' else event:<12} "
            f"{incident.severity} {incident.id} {incident.title}{detail}")


def render_budget(budget: BudgetSnapshot) -> str:
    series = ",".join(f"{k}={v}" for k, v in budget.series.items())
    return (f"{budget.at}  budget   {budget.slo}{{{series}}} "
            f"sli {budget.sli:.5f}  remaining "
            f"{100 * budget.error_budget_remaining:.1f}%  "
            f"firing {','.join(budget.firing) or '-'}")


def render(value: bytes) -> str:
    """One human line for an output message (its JSON for kinds without a line of their own);
    raises `orjson.JSONDecodeError` for a value that is not JSON."""
    try:
        message: Rendered = msgspec.json.decode(value, type=Rendered)
    except msgspec.MsgspecError:
        return orjson.dumps(orjson.loads(value)).decode()
    if isinstance(message, Alert):
        return render_alert(message)
    if isinstance(message, BudgetSnapshot):
        return render_budget(message)
    if isinstance(message, IncidentEvent):
        return render_incident(message)
    return (f"dead-letter {message.topic}[{message.partition}]@"
            f"{message.offset}: {message.reason}")
