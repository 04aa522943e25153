"""The toil report: each team's toil against its cap, and automation candidates by payback.

Measured as the SRE Workbook asks: in minutes, over a window, per team, against the team's
working time (people × hours per week × weeks in the window). A candidate is a toil task done
three or more times in the window; its yearly minutes are the window's scaled to 365 days, and
automating it is worth it when the hours saved over the horizon exceed building and maintaining
the automation.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping

import numpy as np

from streams.domain.timestamps import format_ts
from streams.domain.toil.config import YEAR, ToilConfig
from streams.domain.toil.ledger import WorkItem
from streams.wire.toil import Candidate, RunbookRuns, TeamToil, ToilReport, TopTask

WEEK = 7 * 86400.0
MONTH = YEAR / 12
MIN_OCCURRENCES = 3
TOP_TASKS = 5


def toil_report(items: Iterable[WorkItem], config: ToilConfig, start: float, end: float,
                requests: Mapping[str, int] | None = None) -> ToilReport:
    """The report of the work ending in (start, end]; `requests` served per team, when known."""
    window = [item for item in items if start < item.at <= end]
    return ToilReport(start=format_ts(start), end=format_ts(end), cap=config.cap,
                      teams=_teams(window, config, start, end, requests or {}),
                      candidates=candidates(window, config, end - start),
                      runbooks=_runbooks(window, config))


def _teams(items: list[WorkItem], config: ToilConfig, start: float, end: float,
           requests: Mapping[str, int]) -> list[TeamToil]:
    weeks = (end - start) / WEEK
    by_team: dict[str, list[WorkItem]] = defaultdict(list)
    for item in items:
        by_team[item.team].append(item)
    rows: list[TeamToil] = []
    for name in sorted(set(by_team) | set(config.teams)):
        work = by_team.get(name, [])
        team = config.teams.get(name)
        capacity = team.people * team.hours_per_week * weeks if team else None
        hours = {kind: sum(i.minutes for i in work if i.kind == kind) / 60
                 for kind in ("toil", "project", "overhead", "automated")}
        share = hours["toil"] / capacity if capacity else None
        served = requests.get(name)
        tasks: dict[str, list[float]] = defaultdict(list)
        for item in work:
            if item.kind == "toil":
                tasks[item.task].append(item.minutes)
        top = sorted(tasks.items(), key=lambda kv: (-sum(kv[1]), kv[0]))[:TOP_TASKS]
        rows.append(TeamToil(
            team=name, capacity_hours=_round(capacity), toil_hours=_hours(hours["toil"]),
            project_hours=_hours(hours["project"]), overhead_hours=_hours(hours["overhead"]),
            automated_hours_saved=_hours(hours["automated"]),
            toil_share=None if share is None else round(share, 4),
            over_cap=share is not None and share > config.cap,
            trend_hours_per_week=_hours(trend([i for i in work if i.kind == "toil"], start, end)),
            toil_per_million_requests=(_round(hours["toil"] / (served / 1e6)) if served else None),
            top_tasks=[TopTask(task=task, minutes=_hours(sum(m)), occurrences=len(m))
                       for task, m in top],
            configured=team is not None))
    rows.sort(key=lambda row: (-(row.toil_share or 0.0), row.team))
    return rows


def trend(items: list[WorkItem], start: float, end: float) -> float:
    """The slope of weekly toil hours, in hours per week per week (0 with under two weeks).

    Weeks are counted back from `end`; a partial oldest week is scaled up to a whole one.
    """
    weeks = math.ceil((end - start) / WEEK - 1e-9)
    if weeks < 2:
        return 0.0
    hours = np.zeros(weeks)
    for item in items:
        back = int((end - item.at) // WEEK)
        hours[weeks - 1 - min(back, weeks - 1)] += item.minutes / 60
    oldest = (end - start) / WEEK - (weeks - 1)
    if oldest < 1:
        hours[0] /= max(oldest, 1e-9)
    slope = np.polyfit(np.arange(weeks, dtype=float), hours, 1)[0]
    return float(slope)


def candidates(items: list[WorkItem], config: ToilConfig, length: float) -> list[Candidate]:
    """Repetitive toil tasks worth automating, most net hours first."""
    grouped: dict[tuple[str, str], list[float]] = defaultdict(list)
    for item in items:
        if item.kind == "toil":
            grouped[(item.team, item.task)].append(item.minutes)
    years = config.horizon / YEAR
    rows: list[Candidate] = []
    for (team, task), minutes in grouped.items():
        if len(minutes) < MIN_OCCURRENCES:
            continue
        per_year = sum(minutes) * YEAR / length
        cost = config.tasks.get(task)
        build = cost.build_hours if cost else config.default_build_hours
        maintain = cost.maintain_hours_per_year if cost else config.default_maintain_hours_per_year
        saved = per_year / 60 * years
        monthly = (per_year / 60 - maintain) / 12
        rows.append(Candidate(
            task=task, team=team, occurrences=len(minutes), minutes_per_year=_hours(per_year),
            hours_saved_over_horizon=_hours(saved), build_hours=build,
            maintain_hours_per_year=maintain, net_hours=_hours(saved - build - maintain * years),
            payback_months=round(build / monthly, 2) if monthly > 0 else None,
            estimated=cost is None))
    rows.sort(key=lambda row: (-row.net_hours, row.team, row.task))
    return rows


def _runbooks(items: list[WorkItem], config: ToilConfig) -> list[RunbookRuns]:
    runs: dict[str, list[WorkItem]] = {book.name: [] for book in config.runbooks}
    for item in items:
        if item.kind == "automated" and item.source == "runbook":
            runs.setdefault(item.task, []).append(item)
    return [RunbookRuns(name=name, runs=len(done),
                        succeeded=sum(i.outcome == "succeeded" for i in done),
                        failed=sum(i.outcome == "failed" for i in done),
                        minutes_saved=_hours(sum(i.minutes for i in done
                                                 if i.outcome == "succeeded")))
            for name, done in sorted(runs.items())]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _hours(value: float) -> float:
    return round(value, 2)
