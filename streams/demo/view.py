"""What `sre-streams demo` shows: burn, budgets, incidents and pages, redrawn live."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

import msgspec

from streams.cli.render import render_alert, render_incident
from streams.wire.alerts import Alert
from streams.wire.budgets import BudgetSnapshot
from streams.wire.incidents import IncidentEvent

Shown = Alert | BudgetSnapshot | IncidentEvent  # what the demo reads, told apart by `kind`


@dataclass
class View:
    """What the terminal shows: traffic, per-series burn and budget, alert transitions."""

    outage_after: float  # the injected outage: when, after the start, and for how long
    outage_for: float
    started: float = field(default_factory=time.monotonic)
    sent: int = 0
    live_sent: int = 0
    budgets: dict[str, BudgetSnapshot] = field(default_factory=dict)
    alerts: list[str] = field(default_factory=list)
    firing: set[str] = field(default_factory=set)
    outage: str = ""
    outage_at: float | None = None  # wall-clock start of the injected outage
    incidents: dict[str, IncidentEvent] = field(default_factory=dict)  # id -> latest event
    escalated: dict[str, float] = field(default_factory=dict)  # id -> when seen escalating
    postmortem: str | None = None  # of the last resolved incident

    def on_message(self, value: bytes) -> None:
        try:
            message: Shown = msgspec.json.decode(value, type=Shown)
        except msgspec.ValidationError:
            return  # another kind of message: not shown
        if isinstance(message, IncidentEvent):
            self.incidents[message.id] = message
            self.alerts.append(render_incident(message))
            if message.event == "escalated":
                self.escalated.setdefault(message.id, time.monotonic())
            if message.postmortem:
                self.postmortem = str(message.postmortem)
        elif isinstance(message, BudgetSnapshot):
            series = ",".join(f"{k}={v}" for k, v in message.series.items())
            self.budgets[f"{message.slo}{{{series}}}"] = message
        else:
            self.alerts.append(render_alert(message))
            series = ",".join(f"{k}={v}" for k, v in message.series.items())
            key = f"{message.slo}{{{series}}} {message.rule}"
            (self.firing.add if message.firing else self.firing.discard)(key)

    def on_page(self, receiver: str, body: dict[str, Any]) -> None:
        """A request that reached the demo's pager or chat receiver."""
        if "event_action" in body:
            summary = (body.get("payload") or {}).get("summary", "")
            self.alerts.append(f"{'':24}  pager    {body['event_action']:<12} "
                               f"{body.get('dedup_key')} {summary}".rstrip())
        else:
            self.alerts.append(f"{'':24}  {receiver:<8} {body.get('text', '')}")

    def status(self) -> str:
        """One line: time, traffic, the outage, what fires, open incidents."""
        firing = sorted(self.firing)
        open_incidents = [f"{i.id} {i.severity} {i.status}"
                          for i in self.incidents.values() if i.status != "resolved"]
        return (f"status {time.monotonic() - self.started:5.0f} s  events sent {self.sent:,}  "
                f"{self.outage}  firing: {', '.join(firing) or '-'}  "
                f"incidents: {', '.join(open_incidents) or '-'}")

    def render(self) -> str:
        elapsed = time.monotonic() - self.started
        lines = [f"sre-streams demo  {elapsed:5.0f} s  events sent {self.sent:,} "
                 f"(live {self.live_sent:,})  {self.outage}", ""]
        lines.append(f"{'series':<40} {'sli 1d':>8} {'burn 1m':>8} {'burn 5m':>8} "
                     f"{'budget':>8}  firing")
        for name in sorted(self.budgets):
            snap = self.budgets[name]
            rates = snap.burn_rates
            lines.append(f"{name:<40} {snap.sli:>8.4f} {rates.get('1m', 0):>8.1f} "
                         f"{rates.get('5m', 0):>8.1f} {100 * snap.error_budget_remaining:>7.1f}%"
                         f"  {','.join(snap.firing) or '-'}")
        lines += ["", "incidents:"] + ([
            f"  {i.id}  {i.severity}  {i.status:<12}  escalation level "
            f"{i.escalation_level}  {i.title}" for i in self.incidents.values()]
            or ["  (none yet)"])
        lines += ["", "alerts, incidents, pages:"] + (self.alerts[-14:] or ["  (none yet)"])
        return "\n".join(lines)



async def show(view: View, out: TextIO, stop: asyncio.Event, tty: bool) -> None:
    """Redraw the screen every second on a terminal; elsewhere, status lines and every alert."""
    last = ""
    shown_alerts = 0
    next_status = 0.0
    while not stop.is_set():
        remaining = (view.outage_at or time.time() + view.outage_after) - time.time()
        if remaining > 0:
            view.outage = f"outage of checkout/eu in {remaining:.0f} s"
        elif remaining > -view.outage_for:
            view.outage = f"OUTAGE of checkout/eu, {-remaining:.0f} s in"
        else:
            view.outage = "outage over"
        if tty:
            screen = view.render()
            if screen != last:
                out.write("\x1b[H\x1b[2J" + screen + "\n")
                out.flush()
                last = screen
        else:
            # Not a terminal (a pipe, a log): a status line now and then, and every alert.
            if view.budgets and time.monotonic() >= next_status:
                print(view.status(), file=out, flush=True)
                next_status = time.monotonic() + 15
            for line in view.alerts[shown_alerts:]:
                print(line, file=out, flush=True)
            shown_alerts = len(view.alerts)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)
    if not tty:
        for line in view.alerts[shown_alerts:]:
            print(line, file=out, flush=True)
