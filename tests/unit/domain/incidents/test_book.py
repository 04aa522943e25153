"""The incident state machine: open, update, severity, ack, escalation, resolve, reopen, stats."""

from __future__ import annotations

import random

import msgspec
import orjson
import pytest

from streams.cli import incidents as incidents_cli
from streams.domain.incidents.book import (
    CommandError,
    EscalationLevel,
    IncidentBook,
    IncidentPolicy,
    Priority,
    book_meta,
    incident_record,
    restore_book,
    series_key,
)
from streams.domain.incidents.postmortem import postmortem_markdown
from streams.domain.slo.loader import SloFileError, parse_slo_text
from streams.domain.timestamps import format_ts
from streams.wire.alerts import Alert
from streams.wire.codec import convert, encode
from streams.wire.commands import Command, Deploy
from tests.unit.conftest import BASE, T0, alert, alert_fields, cmd, command, command_fields

ESCALATING = IncidentPolicy(escalation=(EscalationLevel(300, ("primary",)),
                                        EscalationLevel(900, ("secondary", "manager"))))


def deploy(fields: dict[str, object]) -> Deploy:
    return convert(fields, Deploy, "deploy")


def test_a_page_opens_a_p1_incident() -> None:
    book = IncidentBook()
    [opened] = book.on_alert(alert("page-fast", "firing", T0))
    assert opened.event == "opened" and opened.status == "open"
    assert opened.severity == "P1" and opened.slo == "checkout-availability"
    assert opened.series == {"region": "eu"} and opened.opened_at == format_ts(T0)
    assert opened.runbook_url == "https://runbooks.example/checkout"
    assert [a.rule for a in opened.alerts] == ["page-fast"]


@pytest.mark.parametrize(("rule", "severity", "expected"), [
    ("page-fast", "page", Priority.P1),
    ("page-slow", "page", Priority.P2),
    ("ticket-fast", "ticket", Priority.P3),
    ("ticket-slow", "ticket", Priority.P3),
    ("custom-page", "page", Priority.P2),
    ("custom-ticket", "ticket", Priority.P3),
])
def test_the_severity_map_decides_the_priority(rule: str, severity: str,
                                               expected: Priority) -> None:
    [opened] = IncidentBook().on_alert(alert(rule, "firing", T0, severity=severity))
    assert opened.severity == expected.value


def test_further_alerts_update_the_open_incident_and_raise_its_severity() -> None:
    book = IncidentBook(IncidentPolicy(inhibit=False))
    [opened] = book.on_alert(alert("ticket-slow", "firing", T0))
    assert opened.severity == "P3"
    [updated] = book.on_alert(alert("page-fast", "firing", T0 + 60))
    assert updated.event == "updated" and updated.id == opened.id
    assert updated.severity == "P1"
    [same] = book.on_alert(alert("ticket-fast", "firing", T0 + 120))
    assert same.severity == "P1", "severity never falls silently"
    assert len(book.incidents) == 1


def test_other_series_get_their_own_incident() -> None:
    book = IncidentBook()
    first = book.on_alert(alert("page-fast", "firing", T0, series={"region": "eu"}))
    second = book.on_alert(alert("page-fast", "firing", T0, series={"region": "us"}))
    assert first[0].id != second[0].id and len(book.incidents) == 2


def test_it_resolves_when_all_its_alerts_have_resolved() -> None:
    book = IncidentBook()
    book.on_alert(alert("page-fast", "firing", T0))
    book.on_alert(alert("page-slow", "firing", T0 + 70))
    [still] = book.on_alert(alert("page-fast", "resolved", T0 + 300))
    assert still.event == "updated" and still.status == "open"
    [resolved] = book.on_alert(alert("page-slow", "resolved", T0 + 900))
    assert resolved.event == "resolved" and resolved.resolved_at == format_ts(T0 + 900)


def test_acknowledgement_stops_escalation() -> None:
    book = IncidentBook(ESCALATING)
    [opened] = book.on_alert(alert("page-fast", "firing", T0))
    [acked] = book.on_command(command("ack", str(opened.id), T0 + 120))
    assert acked.event == "acknowledged" and acked.status == "acknowledged"
    assert acked.acknowledged_at == format_ts(T0 + 120)
    assert book.advance(T0 + 3600) == []


def test_an_unacknowledged_incident_escalates_level_by_level_on_event_time() -> None:
    book = IncidentBook(ESCALATING)
    book.on_alert(alert("page-fast", "firing", T0))
    assert book.advance(T0 + 299) == []
    [first] = book.advance(T0 + 300)
    assert first.event == "escalated" and first.escalation_level == 1
    assert first.notify == ["primary"] and first.at == format_ts(T0 + 300)
    # A jump in time escalates at the instants the timers ran out, not at the jump.
    [second] = book.advance(T0 + 5000)
    assert second.escalation_level == 2 and second.at == format_ts(T0 + 1200)
    assert second.notify == ["secondary", "manager"]
    assert book.advance(T0 + 90000) == [], "no levels left, no repeat"


def test_escalation_repeats_the_chain_when_asked() -> None:
    policy = IncidentPolicy(escalation=ESCALATING.escalation, repeat=1)
    book = IncidentBook(policy)
    book.on_alert(alert("page-fast", "firing", T0))
    levels = [e.escalation_level for e in book.advance(T0 + 10_000)]
    assert levels == [1, 2, 3, 4]


def test_alerts_advance_the_timers_too() -> None:
    book = IncidentBook(ESCALATING)
    book.on_alert(alert("page-fast", "firing", T0))
    events = book.on_alert(alert("page-slow", "firing", T0 + 400))
    assert [e.event for e in events] == ["escalated", "updated"]


def test_resolve_and_assign_and_note_by_command() -> None:
    book = IncidentBook()
    [opened] = book.on_alert(alert("page-fast", "firing", T0))
    ident = str(opened.id)
    [assigned] = book.on_command(command("assign", ident, T0 + 10, assignee="bob"))
    assert assigned.assignee == "bob"
    book.on_command(command("note", ident, T0 + 20, text="rolling back"))
    [resolved] = book.on_command(command("resolve", ident, T0 + 30))
    assert resolved.event == "resolved" and resolved.status == "resolved"
    kinds = [e.kind for e in book.incidents[ident].timeline]
    assert kinds == ["alert", "opened", "assign", "note", "resolved"]


@pytest.mark.parametrize(("bad", "message"), [
    ({"command": "reboot"}, "unknown command"),
    ({"by": ""}, "missing field 'by'"),
    ({"ts": "yesterday"}, "bad or missing 'ts'"),
    ({"incident": "inc-000000000000"}, "unknown incident"),
    ({"command": "assign"}, "assign needs 'assignee'"),
    ({"command": "note"}, "note needs 'text'"),
])
def test_bad_commands_are_refused_with_a_reason(bad: dict[str, object], message: str) -> None:
    book = IncidentBook()
    [opened] = book.on_alert(alert("page-fast", "firing", T0))
    with pytest.raises(CommandError, match=message):
        book.on_command(cmd({**command_fields("ack", str(opened.id), T0 + 5), **bad}))


def test_an_alert_firing_again_soon_after_resolution_reopens_the_incident() -> None:
    book = IncidentBook(IncidentPolicy(reopen_within=1800))
    [opened] = book.on_alert(alert("page-fast", "firing", T0))
    book.on_alert(alert("page-fast", "resolved", T0 + 600))
    [reopened] = book.on_alert(alert("page-fast", "firing", T0 + 600 + 1800))
    assert reopened.event == "reopened" and reopened.id == opened.id
    assert reopened.status == "open" and reopened.resolved_at is None
    book.on_alert(alert("page-fast", "resolved", T0 + 3000))
    [fresh] = book.on_alert(alert("page-fast", "firing", T0 + 3000 + 1801))
    assert fresh.event == "opened" and fresh.id != opened.id


def test_a_resolution_with_no_open_incident_changes_nothing() -> None:
    assert IncidentBook().on_alert(alert("page-fast", "resolved", T0)) == []


def test_statistics_overall_and_per_service() -> None:
    book = IncidentBook()
    [a] = book.on_alert(alert("page-fast", "firing", T0, burning_since=format_ts(T0 - 60)))
    book.on_command(command("ack", str(a.id), T0 + 120))
    book.on_alert(alert("page-fast", "resolved", T0 + 600))
    other = alert_fields("ticket-slow", "firing", T0, series={})
    other["service"], other["slo"] = "search", "search-availability"
    book.on_alert(convert(other, Alert, "alert"))
    stats = book.stats()
    overall = stats.overall
    assert overall.incidents == 2 and overall.open == 1
    assert overall.by_severity == {"P1": 1, "P2": 0, "P3": 1}
    checkout = stats.services["checkout"]
    assert checkout.mtta_seconds == pytest.approx(120)
    assert checkout.mttr_seconds == pytest.approx(600)
    assert checkout.mttd_seconds == pytest.approx(60)
    assert stats.services["search"].mtta_seconds is None


def test_the_postmortem_draft_lists_alerts_ack_deploy_and_resolution_in_time_order() -> None:
    book = IncidentBook()
    book.on_deploy(deploy({"ts": format_ts(T0 - 300), "service": "checkout", "version": "v41"}))
    [opened] = book.on_alert(alert("page-fast", "firing", T0, budget=0.95, bad=1000))
    ident = str(opened.id)
    book.on_deploy(deploy({"ts": format_ts(T0 + 200), "service": "checkout", "version": "v42",
                    "by": "deploybot"}))
    book.on_alert(alert("page-slow", "firing", T0 + 60, budget=0.90, bad=1600))
    book.on_command(command("ack", ident, T0 + 120))
    book.on_alert(alert("page-fast", "resolved", T0 + 500, budget=0.88, bad=1800))
    [resolved] = book.on_alert(alert("page-slow", "resolved", T0 + 700, budget=0.88, bad=1800))
    assert resolved.error_budget_consumed == pytest.approx(0.07)
    assert resolved.bad_events == 800
    text = postmortem_markdown(book.incidents[ident], book.deploys["checkout"])
    assert text.startswith("# Postmortem: checkout-availability {region=eu}")
    assert "**Status:** draft" in text and "7.00%" in text and "800 failed requests" in text
    for heading in ("## Summary", "## Impact", "## Detection", "## Trigger", "## Root causes",
                    "## Resolution", "## Timeline (UTC)", "## Action items", "## Lessons learned"):
        assert heading in text
    rows = [line for line in text.splitlines() if line.startswith("| 2026-")]
    kinds = [row.split("|")[2].strip() for row in rows]
    # The deploy 5 minutes before the opening is listed too: a likely trigger.
    assert kinds == ["deploy", "alert", "opened", "alert", "ack", "deploy", "alert", "alert",
                     "resolved"]
    assert [row.split("|")[1].strip() for row in rows] == sorted(
        row.split("|")[1].strip() for row in rows)
    assert "v41 at" in text and "v42 at" in text, "deploys around the incident are named"


def test_the_incidents_section_of_the_slo_file_is_parsed() -> None:
    slo_file = parse_slo_text(BASE + """incidents:
  severity: {page-fast: P1, "ticket-*": P2}
  reopen_within: 30m
  escalation:
    levels:
      - {after: 5m, notify: [payments-pager]}
      - {after: 15m, notify: [ops-hook, manager]}
    repeat: 2
notify:
  receivers:
    - {name: payments-pager, pagerduty: {routing_key_env: PD_KEY}}
    - {name: ops-hook, webhook: {url: "http://hooks.example/ops", format: alertmanager}}
    - {name: manager, webhook: {url: "http://hooks.example/chat", format: slack}}
""")
    policy = slo_file.incidents
    assert policy.priority("ticket-slow", "ticket") is Priority.P2
    assert policy.priority("page-slow", "page") is Priority.P2  # no pattern: a page is P2
    assert policy.reopen_within == 1800 and policy.repeat == 2
    assert policy.escalation == (EscalationLevel(300, ("payments-pager",)),
                                 EscalationLevel(900, ("ops-hook", "manager")))


def test_without_an_incidents_section_the_defaults_hold() -> None:
    assert parse_slo_text(BASE).incidents == IncidentPolicy()


def test_a_bad_incidents_section_names_every_problem_with_its_path() -> None:
    with pytest.raises(SloFileError) as error:
        parse_slo_text(BASE + """incidents:
  severity: {page-fast: P0}
  reopen_within: soon
  escalation:
    levels:
      - {after: 0s, notify: [a]}
      - {notify: []}
    repeat: -1
  paging: true
""")
    assert error.value.problems == [
        "incidents.paging: unknown key (allowed: escalation, inhibit, reopen_within, retention, "
            "severity)",
        "incidents.severity.page-fast: must be P1, P2 or P3, got 'P0'",
        "incidents.reopen_within: must be a duration such as 5m, 1h or 30d, got 'soon'",
        "incidents.escalation.repeat: must be >= 0, got -1",
        "incidents.escalation.levels[0].after: must be a duration such as 5m, 1h or 30d, "
        "got '0s'",
        "incidents.escalation.levels[1].after: is required (a duration such as 5m, 1h or 30d)",
        "incidents.escalation.levels[1].notify: must be a non-empty list of receiver names, "
        "got a list",
    ]


def test_an_incident_book_round_trips_through_its_records() -> None:
    book = IncidentBook(ESCALATING)
    [opened] = book.on_alert(alert("page-fast", "firing", T0, bad=10))
    book.on_command(command("assign", str(opened.id), T0 + 10, assignee="bob"))
    book.on_deploy(deploy({"ts": format_ts(T0 + 20), "service": "checkout", "version": "v2"}))
    copy = IncidentBook(ESCALATING)
    records = [orjson.loads(orjson.dumps(incident_record(i))) for i in book.incidents.values()]
    restore_book(copy, orjson.loads(orjson.dumps(book_meta(book))), records)
    assert copy.incidents == book.incidents and copy.deploys == book.deploys
    # Both go on identically: the escalation timer survived.
    assert copy.advance(T0 + 400) == book.advance(T0 + 400) != []


def test_a_ticket_is_inhibited_while_a_page_of_its_series_fires() -> None:
    book = IncidentBook()
    [opened] = book.on_alert(alert("page-fast", "firing", T0))
    assert book.on_alert(alert("ticket-fast", "firing", T0 + 60)) == [], "no news, no page"
    incident = book.incidents[str(opened.id)]
    assert incident.alerts["id-ticket-fast-[]"].suppressed == "inhibited by page-fast"
    [mitigated] = book.on_alert(alert("page-fast", "resolved", T0 + 600))
    assert mitigated.event == "mitigated", "the ticket still fires: open at ticket level"
    assert incident.alerts["id-ticket-fast-[]"].suppressed is None, "no page inhibits it now"
    [resolved] = book.on_alert(alert("ticket-fast", "resolved", T0 + 900))
    assert resolved.event == "resolved"
    # Another series: its ticket is not inhibited by this series' page.
    book.on_alert(alert("page-fast", "firing", T0 + 1000))
    [other] = book.on_alert(alert("ticket-fast", "firing", T0 + 1060, series={"region": "us"}))
    assert other.event == "opened" and other.severity == "P3"


def test_silences_keep_matching_alerts_from_opening_incidents_until_they_expire() -> None:
    book = IncidentBook()
    assert book.on_command(cmd({"command": "silence", "match": {"service": "checkout", "rule": "page-fast"},
                            "until": format_ts(T0 + 3600), "by": "alice", "ts": format_ts(T0),
                            "comment": "planned maintenance"})) == []
    [silence] = book.active_silences()
    assert silence.match == {"service": "checkout", "rule": "page-fast"}
    assert book.on_alert(alert("page-fast", "firing", T0 + 60)) == []
    assert book.on_alert(alert("ticket-fast", "firing", T0 + 70)) == [], \
        "a silenced page still inhibits its series' tickets"
    assert book.on_alert(alert("page-fast", "resolved", T0 + 600)) == []
    assert book.on_alert(alert("ticket-fast", "resolved", T0 + 610)) == []
    assert book.incidents == {}
    book.advance(T0 + 3600)
    assert book.active_silences() == [], "expired"
    [opened] = book.on_alert(alert("page-fast", "firing", T0 + 3700))
    assert opened.event == "opened"


def test_an_alert_still_firing_when_its_silence_ends_opens_an_incident_then() -> None:
    book = IncidentBook()
    book.on_command(cmd({"command": "silence", "match": {"rule": "page-fast"}, "by": "alice",
                     "ts": format_ts(T0), "until": format_ts(T0 + 600)}))
    assert book.on_alert(alert("page-fast", "firing", T0 + 60)) == []
    [opened] = book.advance(T0 + 900)
    assert (opened.event, opened.opened_at) == ("opened", format_ts(T0 + 600))


@pytest.mark.parametrize(("fields", "message"), [
    ({"match": {}}, "silence needs 'match'"),
    ({"match": {"service": 1}}, "silence needs 'match'"),
    ({"until": "soon"}, "bad or missing 'until'"),
    ({"until": "2026-11-22T00:00:00Z"}, "'until' must be after the start"),
    ({"from": format_ts(T0 + 120)}, "'until' must be after the start"),
])
def test_bad_silences_are_refused_with_the_reason(fields: dict[str, object], message: str) -> None:
    command = {"command": "silence", "match": {"service": "checkout"}, "by": "alice",
               "ts": format_ts(T0), "until": format_ts(T0 + 60), **fields}
    with pytest.raises(CommandError, match=message):
        IncidentBook().on_command(cmd(command))


def test_silences_and_suppressed_alerts_survive_a_restart() -> None:
    book = IncidentBook()
    book.on_command(cmd({"command": "silence", "match": {"rule": "page-fast"}, "by": "alice",
                     "ts": format_ts(T0), "until": format_ts(T0 + 3600)}))
    book.on_alert(alert("page-fast", "firing", T0 + 60))
    copy = IncidentBook()
    restore_book(copy, orjson.loads(orjson.dumps(book_meta(book))), [])
    assert copy.silences == book.silences and copy.suppressed == book.suppressed
    assert copy.on_alert(alert("ticket-fast", "firing", T0 + 70)) == [], "inhibited after restart"


def test_escalation_timers_miss_nothing_among_many_incidents_and_survive_a_restore() -> None:
    """Timers are a heap: after any advance no open incident is overdue, acknowledged or
    resolved ones never escalate, and a restored book goes on with the same events."""
    rnd = random.Random(11)
    book = IncidentBook(ESCALATING)
    at = T0
    copy: IncidentBook | None = None
    for step in range(400):
        at += rnd.randint(5, 120)
        region = f"r{rnd.randrange(20)}"
        action = rnd.random()
        incident = book.incidents.get(book.by_series.get(
            series_key("checkout-availability", {"region": region}), ""))
        inputs: list[Alert | Command] = []
        if incident is None or incident.status.value == "resolved" or action < 0.4:
            status = "resolved" if incident is not None and incident.firing and action < 0.2 else (
                "firing")
            inputs.append(alert("page-fast", status, at, series={"region": region}))
        elif action < 0.7 and incident.status.value == "open":
            inputs.append(command("ack", incident.id, at))
        else:
            inputs.append(command("note", incident.id, at, text="looking"))
        for item in inputs:
            made = book.on_alert(item) if isinstance(item, Alert) else book.on_command(item)
            if copy is not None:
                again = copy.on_alert(item) if isinstance(item, Alert) else copy.on_command(item)
                assert again == made, step
            for event in made:
                if event.event == "escalated":
                    assert event.status == "open", event
        assert not [i.id for i in book.incidents.values() if i.status.value == "open"
                    and i.escalation_due is not None and i.escalation_due <= at], step
        if step == 200:
            copy = IncidentBook(ESCALATING)
            records = [orjson.loads(orjson.dumps(incident_record(i)))
                       for i in book.incidents.values()]
            restore_book(copy, orjson.loads(orjson.dumps(book_meta(book))), records)
    assert copy is not None and sum(i.escalation_level for i in book.incidents.values()) > 20
    assert sum(i.reopened for i in book.incidents.values()) > 5


def test_the_cli_statistics_of_published_events_agree_with_the_book() -> None:
    book = IncidentBook()
    [a] = book.on_alert(alert("page-fast", "firing", T0, burning_since=format_ts(T0 - 60)))
    events = [a, *book.on_command(command("ack", a.id, T0 + 120))]
    events += book.on_alert(alert("page-fast", "resolved", T0 + 600))
    events += book.on_alert(alert("ticket-slow", "firing", T0 + 700, series={"region": "us"}))
    resolved = msgspec.structs.replace(events[2], postmortem="# Postmortem")
    published = [encode(e) for e in [events[0], events[1], resolved, events[3]]]
    published.insert(1, b'{"kind": "alert"}')  # another kind on the topic: passed over
    shown = incidents_cli.latest(published)
    assert sorted(shown) == sorted(book.incidents) and shown[a.id].postmortem == "# Postmortem"
    assert incidents_cli.statistics(shown.values()) == book.stats()
