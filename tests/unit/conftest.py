"""Incident material shared by the domain and runtime tests: alerts and commands as on their topics."""

from __future__ import annotations

from streams.domain.timestamps import format_ts, parse_ts
from streams.wire.alerts import Alert
from streams.wire.codec import convert
from streams.wire.commands import Command

T0 = parse_ts("2026-11-23T02:00:00Z")

BASE = """apiVersion: sre-streams/v1
slos:
  - {name: api, service: api, objective: 0.999, sli: {availability: {}}}
"""


def alert(rule: str, status: str, at: float, **fields: object) -> Alert:
    return convert(alert_fields(rule, status, at, **fields), Alert, "alert")  # type: ignore[arg-type]


def alert_fields(rule: str, status: str, at: float, *, severity: str | None = None,
                 series: dict[str, str] | None = None, budget: float = 0.9,
                 bad: int | None = None, **extra: object) -> dict[str, object]:
    event: dict[str, object] = {
        "kind": "alert", "version": 1, "id": f"id-{rule}-{sorted((series or {}).items())}",
        "status": status, "slo": "checkout-availability", "service": "checkout",
        "series": series if series is not None else {"region": "eu"}, "rule": rule,
        "severity": severity or ("page" if rule.startswith("page") else "ticket"),
        "long_window": "1h", "short_window": "5m", "threshold": 14.4,
        "burn_rate_long": 20.0, "burn_rate_short": 30.0, "error_budget_remaining": budget,
        "at": format_ts(at), "started_at": format_ts(at), "labels": {"team": "payments"},
        "annotations": {"summary": "...", "runbook_url": "https://runbooks.example/checkout"},
        **extra}
    if bad is not None:
        event["period_bad_events"] = bad
    return event


def command_fields(name: str, incident: str, at: float, **fields: object) -> dict[str, object]:
    return {"command": name, "incident": incident, "by": "alice", "ts": format_ts(at), **fields}


def command(name: str, incident: str, at: float, **fields: object) -> Command:
    return cmd(command_fields(name, incident, at, **fields))


def cmd(fields: dict[str, object]) -> Command:
    return convert(fields, Command, "command")
