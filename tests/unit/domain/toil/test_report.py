"""The toil report against a generated ledger whose truth is known by construction."""

from __future__ import annotations

import itertools
from typing import Any

import msgspec
import pytest

from streams.domain.slo.loader import SloFileError, parse_slo_text
from streams.domain.timestamps import parse_ts
from streams.domain.toil.config import YEAR, TaskCost, Team, ToilConfig
from streams.domain.toil.ledger import WorkItem, work_item
from streams.domain.toil.report import toil_report as typed_report
from streams.domain.toil.report import trend
from streams.synthetic.toil import WEEK, RecurringTask, work_events
from streams.wire.codec import convert
from streams.wire.toil import WorkEvent

START = parse_ts("2026-10-05T00:00:00Z")
WEEKS = 4
TEAMS = {"payments": Team("payments", 4, 40), "search": Team("search", 1.5, 40),
         "storage": Team("storage", 6, 35)}
PEOPLE = {"payments": ["ana", "bo"], "search": ["cy"], "storage": ["dee", "eli", "fay"]}
TASKS = [
    RecurringTask("payments", "rotate TLS certs", 3, 30),
    RecurringTask("payments", "restart consumer", 12, 20),
    RecurringTask("payments", "refund by hand", 1, 90),  # 4 in the window: a candidate
    RecurringTask("payments", "design review", 4, 120, kind="project"),
    RecurringTask("payments", "standup", 5, 15, kind="overhead"),
    RecurringTask("search", "reindex shard", 20, 60),
    RecurringTask("search", "resize cluster", 6, 140),
    RecurringTask("search", "ranking project", 1, 240, kind="project"),
    RecurringTask("storage", "replace disk", 6, 45),
    RecurringTask("storage", "quota request", 20, 10),
    RecurringTask("storage", "one-off migration", 0.5, 300),  # twice: not repetitive
    RecurringTask("storage", "new storage tier", 10, 480, kind="project"),
]
COSTS = {"rotate TLS certs": TaskCost("rotate TLS certs", 16, 4),
         "reindex shard": TaskCost("reindex shard", 80, 20),
         "resize cluster": TaskCost("resize cluster", 200, 40)}
CONFIG = ToilConfig(cap=0.5, teams=TEAMS, tasks=COSTS, default_build_hours=24)


def toil_report(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """The report as its JSON has it."""
    return msgspec.to_builtins(typed_report(*args, **kwargs))  # type: ignore[no-any-return]


def ledger() -> list[WorkItem]:
    return [work_item(convert(e, WorkEvent, "work event"))
            for e in work_events(TASKS, START, WEEKS, PEOPLE)]


def report() -> dict[str, object]:
    return toil_report(ledger(), CONFIG, START, START + WEEKS * WEEK)


def true_share(team: str) -> float:
    toil = sum(t.minutes_in(WEEKS) for t in TASKS if t.team == team and t.kind == "toil") / 60
    spec = TEAMS[team]
    return toil / (spec.people * spec.hours_per_week * WEEKS)


def true_net_hours(task: RecurringTask) -> float:
    per_year = task.per_week * task.minutes * YEAR / WEEK
    cost = COSTS.get(task.task)
    build, maintain = (cost.build_hours, cost.maintain_hours_per_year) if cost else (24, 0)
    return per_year / 60 * 5 - build - maintain * 5


def test_toil_shares_are_within_half_a_percent_of_the_truth_and_over_cap_is_right() -> None:
    teams = {t["team"]: t for t in report()["teams"]}  # type: ignore[attr-defined]
    assert set(teams) == set(TEAMS)
    for name in TEAMS:
        assert teams[name]["toil_share"] == pytest.approx(true_share(name), abs=0.005)
        assert teams[name]["over_cap"] is (true_share(name) > 0.5)
    assert teams["search"]["over_cap"] and not teams["payments"]["over_cap"]
    assert teams["payments"]["capacity_hours"] == 640
    assert teams["payments"]["project_hours"] == pytest.approx(4 * 4 * 120 / 60)
    assert teams["payments"]["overhead_hours"] == pytest.approx(5 * 4 * 15 / 60)
    # most toil-burdened team first
    assert report()["teams"][0]["team"] == "search"  # type: ignore[index]


def test_candidates_are_the_repetitive_tasks_in_order_of_net_hours() -> None:
    rows = report()["candidates"]
    assert isinstance(rows, list)
    toil = [t for t in TASKS if t.kind == "toil" and t.occurrences(WEEKS) >= 3]
    assert {r["task"] for r in rows} == {t.task for t in toil}  # the one-off is not there
    position = {r["task"]: i for i, r in enumerate(rows)}
    for a, b in itertools.combinations(toil, 2):
        net_a, net_b = true_net_hours(a), true_net_hours(b)
        if abs(net_a - net_b) > 0.1 * max(abs(net_a), abs(net_b)):
            assert (position[a.task] < position[b.task]) == (net_a > net_b), (a.task, b.task)
    certs = next(r for r in rows if r["task"] == "rotate TLS certs")
    # 12 times × 30 min in 4 weeks: 90 min a week, 4,693 min a year; 391 h over 5 years
    assert certs["occurrences"] == 12 and not certs["estimated"]
    assert certs["minutes_per_year"] == pytest.approx(90 * YEAR / WEEK, abs=0.01)
    assert certs["net_hours"] == pytest.approx(90 * YEAR / WEEK / 60 * 5 - 16 - 20, abs=0.01)
    assert certs["payback_months"] == pytest.approx(16 / ((90 * YEAR / WEEK / 60 - 4) / 12), abs=0.01)
    refund = next(r for r in rows if r["task"] == "refund by hand")
    assert refund["estimated"] and refund["build_hours"] == 24


def test_a_task_that_never_pays_back_has_no_payback_and_negative_net_hours() -> None:
    items = [WorkItem(START + i * WEEK, "payments", "ana", "rare chore", 5, "toil") for i in range(1, 4)]
    config = ToilConfig(tasks={"rare chore": TaskCost("rare chore", 500, 10)})
    [row] = toil_report(items, config, START, START + 4 * WEEK)["candidates"]
    assert row["net_hours"] < 0 and row["payback_months"] is None


def test_the_trend_is_the_weekly_slope_of_toil_hours() -> None:
    # 1 h in week 0, 2 h in week 1, 3 h in week 2, 4 h in week 3: +1 h per week
    items = [WorkItem(START + w * WEEK + 3600, "t", "x", "chore", 60, "toil")
             for w in range(4) for _ in range(w + 1)]
    assert trend(items, START, START + 4 * WEEK) == pytest.approx(1.0)
    assert trend(items[:1], START, START + 3 * 86400) == 0.0


def test_teams_without_configuration_are_listed_without_a_share() -> None:
    items = [WorkItem(START + 60, "ghost", "x", "chore", 30, "toil")]
    [row] = toil_report(items, ToilConfig(), START, START + WEEK)["teams"]
    assert row["team"] == "ghost" and row["toil_share"] is None and not row["configured"]
    assert row["toil_hours"] == 0.5


def test_toil_per_million_requests() -> None:
    items = [WorkItem(START + 60, "payments", "x", "chore", 120, "toil")]
    [row] = [t for t in toil_report(items, CONFIG, START, START + WEEK, {"payments": 4_000_000})["teams"]
             if t["team"] == "payments"]
    assert row["toil_per_million_requests"] == 0.5


def test_the_toil_section_is_parsed_with_defaults() -> None:
    slos = parse_slo_text("""apiVersion: sre-streams/v1
slos:
  - {name: checkout-availability, service: checkout, objective: 0.999, sli: {availability: {}}}
toil:
  cap: 0.4
  horizon: 3y
  teams: [{name: payments, people: 4}]
  tasks: [{task: rotate TLS certs, build_hours: 16, maintain_hours_per_year: 4}]
  runbooks:
    - name: restart-consumer
      match: {slo: checkout-availability, rule: page-fast}
      action: {webhook: {url: "https://jobs.example/run", headers_env: {Authorization: JOBS_TOKEN},
                         body: {service: "{service}"}}}
      mode: auto
      max_per_hour: 2
      saves_minutes: 20
""")
    toil = slos.toil
    assert toil.cap == 0.4 and toil.horizon == 3 * YEAR and toil.interrupt_minutes == 10
    assert toil.teams["payments"].hours_per_week == 40
    [book] = toil.runbooks
    assert book.mode == "auto" and book.max_per_hour == 2 and book.action.method == "POST"
    assert book.action.headers_env == (("Authorization", "JOBS_TOKEN"),)
    assert book.match.slo == "checkout-availability" and book.match.rule == "page-fast"


def test_every_problem_of_the_toil_section_has_its_path() -> None:
    with pytest.raises(SloFileError) as caught:
        parse_slo_text("""apiVersion: sre-streams/v1
slos:
  - {name: api, service: api, objective: 0.999, sli: {availability: {}}}
toil:
  cap: 1.5
  horizon: forever
  teams: [{name: a, people: 0}, {name: a, people: 2, hours_per_week: 200}]
  tasks: [{task: x}]
  runbooks:
    - {name: r1, match: {slo: nope}, action: {webhook: {url: "https://x"}}}
    - {name: r2, match: {}, action: {email: {}}, mode: always, max_per_hour: 0}
  colour: blue
""")
    problems = caught.value.problems
    for path in ("toil.cap", "toil.horizon", "toil.teams[0].people", "toil.teams[1].hours_per_week",
                 "toil.tasks[0].build_hours", "toil.runbooks[0].match.slo", "toil.runbooks[1].match",
                 "toil.runbooks[1].action", "toil.runbooks[1].mode", "toil.runbooks[1].max_per_hour",
                 "toil.colour"):
        assert any(p.startswith(path + ":") for p in problems), (path, problems)
