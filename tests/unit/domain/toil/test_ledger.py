"""On-call work derived from incidents: the acknowledged span plus the interrupts."""

from __future__ import annotations

import io
from pathlib import Path
from typing import get_args

import pytest

from streams.domain.incidents.book import EscalationLevel, IncidentBook, IncidentPolicy
from streams.domain.slo.loader import parse_slo_text
from streams.domain.timestamps import format_ts, parse_ts
from streams.domain.toil.config import ToilConfig
from streams.domain.toil.ledger import incident_work
from streams.offline.backtest import run_backtest
from streams.wire.alerts import decode_alert
from streams.wire.codec import convert
from streams.wire.commands import Command
from streams.wire.incidents import IncidentEvent, IncidentStatus
from tests.conftest import HOUR, blips_and_outage, write_events
from tests.unit.domain.toil.test_report import toil_report

SLOS = """apiVersion: sre-streams/v1
slos:
  - name: api
    service: api
    objective: 0.99
    sli: {availability: {}}
    labels: {team: payments}
"""


def replayed_outage(tmp_path: Path, policy: IncidentPolicy, ack_after: float
                    ) -> tuple[list[IncidentEvent], float, float]:
    """The changes of the incident of a replayed one-hour outage, acknowledged `ack_after`
    seconds after it opened, with the acknowledgement time and when work on it ended."""
    events, outage = blips_and_outage(days=3)
    out = io.BytesIO()
    run_backtest(parse_slo_text(SLOS), write_events(tmp_path / "events.jsonl", events), out,
                 stderr=io.StringIO(), progress=False)
    alerts = [decode_alert(line) for line in out.getvalue().splitlines()]
    assert alerts, "the outage raised no alert"
    book = IncidentBook(policy)
    changes: list[IncidentEvent] = []
    acked = None
    for alert in alerts:
        at = parse_ts(alert.at)
        opened = [c for c in changes if c.event == "opened" and parse_ts(c.opened_at) >= outage.start]
        if acked is None and opened and at >= parse_ts(opened[0].opened_at) + ack_after:
            acked = parse_ts(opened[0].opened_at) + ack_after
            changes += book.on_command(convert({"command": "ack", "incident": opened[0].id,
                                                "by": "alice", "ts": format_ts(acked)},
                                               Command, "command"))
        changes += book.on_alert(alert)
    assert acked is not None
    # Work ends when the pages stop where incidents can be mitigated, else at the resolution.
    pages_only = "mitigated" in get_args(IncidentStatus)
    resolved = max(parse_ts(a.at) for a in alerts if a.status == "resolved"
                   and (a.severity == "page" or not pages_only))
    changes = [c for c in changes if parse_ts(c.opened_at) >= outage.start]
    return changes, acked, resolved


def test_on_call_minutes_are_the_acknowledged_span_plus_the_interrupts(tmp_path: Path) -> None:
    changes, acked, resolved = replayed_outage(tmp_path, IncidentPolicy(), ack_after=240)
    [incident] = {c.id for c in changes}
    work = incident_work(changes, interrupt_minutes=10, until=resolved + 10 * HOUR)
    # one page (the opening) and one command (the acknowledgement); no escalation configured
    interrupts = [w for w in work if w.task.startswith("interrupt")]
    assert sorted(w.task for w in interrupts) == ["interrupt: command", "interrupt: page"]
    span = [w for w in work if w.task == "incident response: api"]
    assert [w.ref for w in span] == [incident] and span[0].team == "payments"
    assert span[0].minutes == pytest.approx((resolved - acked) / 60)
    total = sum(w.minutes for w in work)
    assert total == pytest.approx((resolved - acked) / 60 + 2 * 10)
    # and the report counts it as the team's toil
    report = toil_report(work, ToilConfig(), acked - 3600, resolved + 3600)
    [team] = report["teams"]
    assert team["team"] == "payments"
    assert team["toil_hours"] == pytest.approx(round(total / 60, 2))


def test_escalations_are_interrupts_too(tmp_path: Path) -> None:
    policy = IncidentPolicy(escalation=(EscalationLevel(60, ("primary",)),
                                        EscalationLevel(120, ("secondary",))))
    changes, _, _ = replayed_outage(tmp_path, policy, ack_after=600)
    escalations = sum(c.event == "escalated" for c in changes)
    assert escalations >= 1
    work = incident_work(changes, interrupt_minutes=5, until=0)
    assert sum(w.task == "interrupt: escalation" for w in work) == escalations


def test_an_unacknowledged_incident_has_interrupts_but_no_span() -> None:
    from streams.domain.incidents.book import IncidentBook
    from tests.unit.conftest import T0, alert

    book = IncidentBook()
    changes = book.on_alert(alert("page-fast", "firing", T0))
    changes += book.on_alert(alert("page-fast", "resolved", T0 + 900))
    assert [c.event for c in changes] == ["opened", "resolved"]
    work = incident_work(changes, interrupt_minutes=10, until=T0 + 3600)
    assert [(w.task, w.minutes) for w in work] == [("interrupt: page", 10)]
    assert incident_work([], interrupt_minutes=10, until=0) == []


def test_a_page_again_during_the_mitigation_starts_a_second_span() -> None:
    from streams.domain.incidents.book import IncidentBook
    from tests.unit.conftest import T0, alert, command

    book = IncidentBook()
    changes = book.on_alert(alert("page-fast", "firing", T0))
    changes += book.on_alert(alert("ticket-slow", "firing", T0 + 60))
    ident = changes[0].id
    changes += book.on_command(command("ack", ident, T0 + 120))
    changes += book.on_alert(alert("page-fast", "resolved", T0 + 900))  # mitigated
    changes += book.on_alert(alert("page-fast", "firing", T0 + 1800))  # paged again
    changes += book.on_command(command("ack", ident, T0 + 1860))
    changes += book.on_alert(alert("page-fast", "resolved", T0 + 2400))  # mitigated again
    changes += book.on_alert(alert("ticket-slow", "resolved", T0 + 9000))  # resolved
    assert [c.event for c in changes if c.event != "updated"] == [
        "opened", "acknowledged", "mitigated", "reopened", "acknowledged", "mitigated", "resolved"]
    work = incident_work(changes, interrupt_minutes=10, until=T0 + 10_000)
    spans = sorted(w.minutes for w in work if w.task.startswith("incident response"))
    assert spans == [(2400 - 1860) / 60, (900 - 120) / 60]
    assert sorted(w.task for w in work if w.task.startswith("interrupt")) == [
        "interrupt: command", "interrupt: command", "interrupt: page", "interrupt: page"]
    # The worker's ledger counts the same, change by change.
    from streams.domain.toil.config import Team
    from streams.domain.toil.live import LiveToil

    live = LiveToil(ToilConfig(teams={"payments": Team("payments", 1, 40)}))
    for change in changes:
        live.on_incident(change)
    report = live.report()
    assert report is not None
    assert report.teams[0].toil_hours == pytest.approx(
        round(((900 - 120) + (2400 - 1860)) / 3600 + 4 * 10 / 60, 2))
