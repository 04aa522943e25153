"""The toil report as text: a terminal summary, Markdown, and a self-contained HTML page."""

from __future__ import annotations

import html
from collections.abc import Sequence

from streams.wire.toil import ToilReport


def _hours(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f} h"


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _months(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f}"


def _team_rows(report: ToilReport) -> list[list[str]]:
    return [[t.team, _hours(t.capacity_hours), _hours(t.toil_hours), _share(t.toil_share),
             "over cap" if t.over_cap else "ok", f"{t.trend_hours_per_week:+.2f} h/wk",
             ", ".join(task.task for task in t.top_tasks[:3]) or "—"]
            for t in report.teams]


def _candidate_rows(report: ToilReport) -> list[list[str]]:
    return [[c.task, c.team, str(c.occurrences), f"{c.minutes_per_year:,.0f}",
             _hours(c.hours_saved_over_horizon),
             _hours(c.build_hours) + (" (estimated)" if c.estimated else ""),
             _hours(c.net_hours), _months(c.payback_months)]
            for c in report.candidates]


_TEAMS = ("team", "capacity", "toil", "share", "cap", "trend", "top tasks")
_CANDIDATES = ("task", "team", "times", "min/year", "saved over horizon", "build", "net",
               "payback (months)")
_RUNBOOKS = ("runbook", "runs", "succeeded", "failed", "minutes saved")


def _runbook_rows(report: ToilReport) -> list[list[str]]:
    return [[r.name, str(r.runs), str(r.succeeded), str(r.failed), f"{r.minutes_saved:,.0f}"]
            for r in report.runbooks]


def text_summary(report: ToilReport) -> str:
    lines = [f"toil from {report.start} to {report.end} (cap {_share(report.cap)})"]
    for row in _team_rows(report):
        lines.append(f"  {row[0]}: {row[2]} of {row[1]} = {row[3]} ({row[4]}, trend {row[5]})")
    if report.candidates:
        lines.append("automation candidates, most net hours first:")
        for c in report.candidates[:10]:
            lines.append(f"  {c.task} ({c.team}): {c.occurrences} times, net "
                         f"{_hours(c.net_hours)}, payback {_months(c.payback_months)} months"
                         + (" (estimated cost)" if c.estimated else ""))
    else:
        lines.append("no automation candidates (no toil task done 3 or more times)")
    return "\n".join(lines) + "\n"


def markdown(report: ToilReport) -> str:
    parts = [f"# Toil report\n\nFrom {report.start} to {report.end}; the cap is "
             f"{_share(report.cap)} of a team's working time.\n", "## Teams\n",
             _md_table(_TEAMS, _team_rows(report)), "## Automation candidates\n",
             _md_table(_CANDIDATES, _candidate_rows(report)) if report.candidates
             else "No toil task was done three or more times in the window.\n"]
    if report.runbooks:
        parts += ["## Runbooks\n", _md_table(_RUNBOOKS, _runbook_rows(report))]
    return "\n".join(parts)


def html_page(report: ToilReport) -> str:
    body = [f"<h1>Toil report</h1><p>From {html.escape(report.start)} to "
            f"{html.escape(report.end)}; the cap is {_share(report.cap)} of a team's working "
            f"time.</p>", "<h2>Teams</h2>", _html_table(_TEAMS, _team_rows(report)),
            "<h2>Automation candidates</h2>",
            _html_table(_CANDIDATES, _candidate_rows(report)) if report.candidates
            else "<p>No toil task was done three or more times in the window.</p>"]
    if report.runbooks:
        body += ["<h2>Runbooks</h2>", _html_table(_RUNBOOKS, _runbook_rows(report))]
    style = ("body{font-family:system-ui,sans-serif;margin:2rem;color:#222}"
             "table{border-collapse:collapse;margin-bottom:1.5rem}"
             "th,td{border-bottom:1px solid #ddd;padding:.3rem .7rem;text-align:left}"
             "th{background:#f4f4f4}")
    return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Toil report"
            f"</title><style>{style}</style></head><body>{''.join(body)}</body></html>\n")


def _md_table(header: Sequence[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _html_table(header: Sequence[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
