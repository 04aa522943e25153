"""Output messages as one human line each (`tail`, `demo`)."""

from __future__ import annotations

from typing import Any

import orjson


def render_alert(alert: dict[str, Any]) -> str:
    series = ",".join(f"{k}={v}" for k, v in alert.get("series", {}).items())
    where = f"{alert.get('slo')}{{{series}}}"
    if alert.get("status") == "firing":
        return (f"{alert.get('at')}  FIRING   {alert.get('severity', ''):<6} {where} {alert.get('rule')}"
                f"  burn {alert.get('burn_rate_long', 0):.1f}x/{alert.get('long_window')} "
                f"{alert.get('burn_rate_short', 0):.1f}x/{alert.get('short_window')}"
                f"  budget {100 * alert.get('error_budget_remaining', 0):.1f}%")
    return f"{alert.get('at')}  resolved {alert.get('severity', ''):<6} {where} {alert.get('rule')}"


def render_incident(incident: dict[str, Any]) -> str:
    event = str(incident.get("event"))
    detail = ""
    if event == "escalated":
        detail = f"  level {incident.get('escalation_level')} -> {', '.join(incident.get('notify', []))}"
    elif event == "resolved":
        detail = (f"  budget consumed {100 * incident.get('error_budget_consumed', 0):.2f}%, "
                  f"{incident.get('bad_events') or 0:,} failed requests")
    return (f"{incident.get('at')}  incident {event.upper() if event == 'opened' else event:<12} "
            f"{incident.get('severity')} {incident.get('id')} {incident.get('title')}{detail}")


def render(message: dict[str, Any]) -> str:
    """One human line for an output message."""
    kind = message.get("kind")
    if kind == "alert":
        return render_alert(message)
    if kind == "budget":
        series = ",".join(f"{k}={v}" for k, v in message.get("series", {}).items())
        return (f"{message.get('at')}  budget   {message.get('slo')}{{{series}}} "
                f"sli {message.get('sli', 1):.5f}  remaining "
                f"{100 * message.get('error_budget_remaining', 0):.1f}%  "
                f"firing {','.join(message.get('firing', [])) or '-'}")
    if kind == "incident":
        return render_incident(message)
    if kind == "dead-letter":
        return (f"dead-letter {message.get('topic')}[{message.get('partition')}]@"
                f"{message.get('offset')}: {message.get('reason')}")
    return orjson.dumps(message).decode()
