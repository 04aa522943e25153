"""The overview's optional sections: capacity runways and toil shares, shown when the SLO file
configures them (each returns None otherwise). Data from the leader, as the rest of the page."""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any, Protocol

from streams.domain.toil.live import LiveToil
from streams.runtime.capacity_view import capacity_document
from streams.web.layout import badge, number, pct, table
from streams.web.pages import PageData
from streams.wire.capacity import CapacityEvent

Section = Callable[[PageData], str | None]
_STATUS = {"critical": "critical", "warn": "warn", "ok": "ok", "unknown": "unknown"}


class Leader(Protocol):
    @property
    def capacity(self) -> list[CapacityEvent] | None: ...

    @property
    def toil(self) -> LiveToil | None: ...


def _days(value: float | None) -> str:
    return "past the horizon" if value is None else f"{value:,.1f} d"


def capacity_section(leader: Leader) -> Section:
    def render(data: PageData) -> str | None:
        if not data.slo_file.capacity:
            return None
        events = leader.capacity or []
        if not events:
            return ("<h2>Capacity</h2><p>No forecast yet: the first comes when an hour of "
                    "event time closes.</p>")
        rows = []
        services: list[dict[str, Any]] = capacity_document(events)["services"]  # type: ignore[assignment]
        for item in services:
            runway = item["runway_days"]
            rows.append([
                escape(item["service"]) + (f" / {escape(item['resource'])}" if item["resource"] else ""),
                badge(item["status"], _STATUS.get(item["status"])),
                f"{_days(runway['p90'])} (p90) · {_days(runway['p50'])} (p50)",
                f"{item['lead_time_days']:g} d",
                number(item["peak_now"], 1) + " of " + number(item["usable_capacity"], 1)
                + (f" {escape(item['unit'])}" if item["unit"] else ""),
                "; ".join(escape(w) for w in item["warnings"]) or "—"])
        return "<h2>Capacity runway</h2>" + table(
            ["service", "status", "runway", "lead time", "peak now of usable", "warnings"], rows,
            "capacity")
    return render


def toil_section(leader: Leader) -> Section:
    def render(data: PageData) -> str | None:
        if not data.slo_file.toil.teams:
            return None
        toil = leader.toil
        report = toil.report() if toil is not None else None
        if report is None:
            return "<h2>Toil</h2><p>No work logged on sre.toil yet.</p>"
        rows = [[escape(t.team), pct(t.toil_share),
                 badge("over cap", "critical") if t.over_cap else badge("ok", "ok"),
                 number(t.toil_hours, 1) + " h of " + number(t.capacity_hours, 0) + " h",
                 f"{t.trend_hours_per_week:+.1f} h/week",
                 ", ".join(escape(task.task) for task in t.top_tasks[:3]) or "—"]
                for t in report.teams]
        return (f"<h2>Toil, last 28 days (cap {pct(report.cap, 0)})</h2>"
                + table(["team", "toil share", "", "toil", "trend", "top tasks"], rows, "toil"))
    return render
