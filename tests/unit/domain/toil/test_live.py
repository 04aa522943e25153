"""The worker's toil ledger: the same shares as the offline report, the cap alert, restore."""

from __future__ import annotations

import msgspec
import orjson
import pytest

from streams.domain.toil.config import Team, ToilConfig
from streams.domain.toil.ledger import WorkItem, work_item
from streams.domain.toil.live import DAY, LiveToil
from streams.synthetic.toil import RecurringTask, work_events
from streams.wire.codec import convert
from streams.wire.toil import WorkEvent
from tests.unit.domain.toil.test_report import PEOPLE, START, TASKS, TEAMS, toil_report

CONFIG = ToilConfig(cap=0.5, teams=TEAMS)


def items(tasks: list[RecurringTask], start: float, weeks: float) -> list[WorkItem]:
    return [work_item(convert(e, WorkEvent, "work event"))
            for e in work_events(tasks, start, weeks, {**PEOPLE, "ops": ["zed"]})]


def test_the_live_report_has_the_offline_shares_and_candidates() -> None:
    live = LiveToil(CONFIG)
    work = items(TASKS, START + DAY / 2, 4)  # starts mid-day: whole days hold it all
    for item in work:
        live.add(item)
    typed = live.report()
    assert typed is not None
    report = msgspec.to_builtins(typed)
    end = (int(live.now // DAY) + 1) * DAY  # type: ignore[operator]
    offline = toil_report(work, CONFIG, end - 28 * DAY, end)
    assert [(t["team"], t["toil_hours"], t["toil_share"]) for t in report["teams"]] == \
        [(t["team"], t["toil_hours"], t["toil_share"]) for t in offline["teams"]]
    assert [(c["task"], c["occurrences"], c["net_hours"]) for c in report["candidates"]] == \
        [(c["task"], c["occurrences"], c["net_hours"]) for c in offline["candidates"]]


def test_a_team_over_its_cap_raises_one_ticket_and_resolves_when_back_under() -> None:
    live = LiveToil(ToilConfig(cap=0.5, teams={"ops": Team("ops", 1, 40)}))
    busy = items([RecurringTask("ops", "page babysitting", 5, 300)], START, 4)  # 25 of 40 h a week
    fired = []
    for item in busy:
        live.add(item)
        fired += live.cap_alerts(item.at)
    assert [(a.status, a.rule, a.severity, a.service) for a in fired] == \
        [("firing", "toil-cap", "ticket", "ops")]
    assert live.cap_alerts(busy[-1].at + 60) == []  # no repeat while it stays over
    # five quiet weeks later the window holds no toil: resolved, once
    live.advance(busy[-1].at + 35 * DAY)
    [resolved] = live.cap_alerts(busy[-1].at + 35 * DAY)
    assert resolved.status == "resolved" and resolved.id == fired[0].id
    assert resolved.started_at == fired[0].started_at


def test_restore_gives_the_same_report() -> None:
    live = LiveToil(CONFIG)
    for item in items(TASKS, START, 2):
        live.add(item)
    stored = orjson.loads(orjson.dumps(live.export()))
    again = LiveToil(CONFIG)
    again.restore(stored)
    assert again.report() == live.report()
    assert again.export() == stored


def test_old_days_are_dropped() -> None:
    live = LiveToil(CONFIG)
    live.add(WorkItem(START, "payments", "a", "chore", 30, "toil"))
    live.add(WorkItem(START + 40 * DAY, "payments", "a", "chore", 30, "toil"))
    assert len(live.days) == 1
    live.add(WorkItem(START, "payments", "a", "chore", 30, "toil"))  # too old to count
    assert len(live.days) == 1
    report = live.report()
    assert report is not None and report.teams[0].toil_hours == pytest.approx(0.5)
