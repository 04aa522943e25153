"""Mitigation: the pages of an incident stop while its tickets still fire."""

from __future__ import annotations

import orjson
import pytest
from msgspec import UNSET

from streams.cli import incidents as incidents_cli
from streams.cli.render import render_incident
from streams.domain.incidents.book import (
    CommandError,
    EscalationLevel,
    IncidentBook,
    IncidentPolicy,
    book_meta,
    incident_record,
    restore_book,
)
from streams.domain.incidents.postmortem import postmortem_markdown
from streams.domain.notify.receivers import payload
from streams.domain.slo.loader import parse_slo_text
from streams.domain.timestamps import format_ts
from streams.wire.codec import encode
from streams.wire.incidents import IncidentEvent
from tests.unit.conftest import BASE, T0, alert, command

ESCALATING = IncidentPolicy(escalation=(EscalationLevel(300, ("primary",)),))
NOTIFY = BASE + """notify:
  receivers:
    - name: pager
      pagerduty: {routing_key: "0123456789abcdef0123456789abcdef", url: "http://127.0.0.1:9/pd"}
    - {name: hook, webhook: {url: "http://127.0.0.1:9/am", format: alertmanager}}
    - {name: chat, webhook: {url: "http://127.0.0.1:9/chat", format: slack}}
  routes:
    - {receiver: pager}
"""


def burn(book: IncidentBook) -> list[IncidentEvent]:
    """A page and a ticket fire; the page ends at T0 + 600 while the ticket still fires."""
    made = book.on_alert(alert("page-fast", "firing", T0))
    made += book.on_alert(alert("ticket-slow", "firing", T0 + 30))
    made += book.on_alert(alert("page-fast", "resolved", T0 + 600))
    return made


def test_the_end_of_the_pages_mitigates_while_tickets_fire_then_their_end_resolves() -> None:
    book = IncidentBook()
    made = burn(book)
    assert [e.event for e in made] == ["opened", "mitigated"], "the inhibited ticket: no news"
    mitigated = made[-1]
    assert mitigated.status == "mitigated" and mitigated.mitigated_at == format_ts(T0 + 600)
    assert mitigated.resolved_at is None
    assert [a.rule for a in mitigated.alerts if a.status == "firing"] == ["ticket-slow"]
    [resolved] = book.on_alert(alert("ticket-slow", "resolved", T0 + 6 * 3600))
    assert resolved.event == "resolved" and resolved.status == "resolved"
    assert resolved.mitigated_at == format_ts(T0 + 600), "kept: when the pages stopped"


def test_pages_alone_resolve_without_a_mitigation() -> None:
    book = IncidentBook()
    book.on_alert(alert("page-fast", "firing", T0))
    [resolved] = book.on_alert(alert("page-fast", "resolved", T0 + 600))
    assert resolved.event == "resolved" and resolved.mitigated_at is UNSET


def test_one_page_of_two_ending_is_no_mitigation() -> None:
    book = IncidentBook()
    book.on_alert(alert("page-fast", "firing", T0))
    book.on_alert(alert("page-slow", "firing", T0 + 10))
    book.on_alert(alert("ticket-slow", "firing", T0 + 20))
    [updated] = book.on_alert(alert("page-fast", "resolved", T0 + 300))
    assert updated.event == "updated" and updated.status == "open"
    [mitigated] = book.on_alert(alert("page-slow", "resolved", T0 + 900))
    assert mitigated.event == "mitigated"


def test_an_incident_opened_by_a_ticket_is_never_mitigated_by_it() -> None:
    book = IncidentBook()
    book.on_alert(alert("ticket-slow", "firing", T0))
    book.on_alert(alert("ticket-fast", "firing", T0 + 60))
    [updated] = book.on_alert(alert("ticket-fast", "resolved", T0 + 600))
    assert updated.event == "updated" and updated.status == "open"


def test_a_page_firing_again_during_the_mitigation_reopens_and_escalates_anew() -> None:
    book = IncidentBook(ESCALATING)
    made = book.on_alert(alert("page-fast", "firing", T0))
    made += book.on_alert(alert("ticket-slow", "firing", T0 + 30))
    made += book.on_command(command("ack", made[0].id, T0 + 60))
    made += book.on_alert(alert("page-fast", "resolved", T0 + 600))
    assert [e.event for e in made] == ["opened", "acknowledged", "mitigated"]
    assert book.advance(T0 + 7200) == [], "no escalation while mitigated"
    with pytest.raises(CommandError, match="is mitigated, not open"):
        book.on_command(command("ack", made[0].id, T0 + 7200))
    [again] = book.on_alert(alert("page-slow", "firing", T0 + 7300))
    assert (again.event, again.status, again.id) == ("reopened", "open", made[0].id)
    assert again.mitigated_at is UNSET and again.acknowledged_at is None
    [escalated] = book.advance(T0 + 7600)
    assert escalated.event == "escalated" and escalated.escalation_level == 1
    [mitigated] = book.on_alert(alert("page-slow", "resolved", T0 + 8000))
    assert mitigated.event == "mitigated" and mitigated.mitigated_at == format_ts(T0 + 8000)
    assert book.incidents[made[0].id].repaged == 1


def test_a_command_resolves_a_mitigated_incident() -> None:
    book = IncidentBook()
    ident = burn(book)[0].id
    [resolved] = book.on_command(command("resolve", ident, T0 + 900))
    assert resolved.status == "resolved" and resolved.mitigated_at == format_ts(T0 + 600)


def test_pagerduty_resolves_at_the_mitigation_and_is_triggered_once_again_by_a_new_page() -> None:
    config = parse_slo_text(NOTIFY).notify
    pager, hook, chat = (config.receivers[n] for n in ("pager", "hook", "chat"))
    book = IncidentBook()
    made = burn(book)
    made += book.on_alert(alert("page-fast", "firing", T0 + 1200))
    made += book.on_alert(alert("page-fast", "resolved", T0 + 1800))
    made += book.on_alert(alert("ticket-slow", "resolved", T0 + 9000))
    assert [e.event for e in made] == ["opened", "mitigated", "reopened", "mitigated", "resolved"]
    sent = [payload(pager, e, "k") for e in made]
    actions = [(orjson.loads(encode(b))["event_action"] if b else None) for b in sent]
    assert actions == ["trigger", "resolve", "trigger", "resolve", None]
    assert {orjson.loads(encode(b))["dedup_key"] for b in sent if b} == {made[0].id}
    assert all(config.receivers_for(e)[0].name == "pager" for e in made)
    webhook = orjson.loads(encode(payload(hook, made[1], None)))  # type: ignore[arg-type]
    assert webhook["status"] == "firing", "the ticket still fires"
    assert webhook["alerts"][0]["annotations"]["incident_status"] == "mitigated"
    assert orjson.loads(encode(payload(chat, made[1], None)))["text"].startswith(  # type: ignore[arg-type]
        "[P1] MITIGATED: ")


def test_statistics_name_time_to_mitigate_and_time_to_resolve() -> None:
    book = IncidentBook()
    events = burn(book)
    events += book.on_alert(alert("ticket-slow", "resolved", T0 + 3600))
    events += book.on_alert(alert("page-fast", "firing", T0 + 9000, series={"region": "us"}))
    events += book.on_alert(alert("page-fast", "resolved", T0 + 9300, series={"region": "us"}))
    overall = book.stats().overall
    assert overall.time_to_mitigate_seconds == pytest.approx((600 + 300) / 2)
    assert overall.time_to_resolve_seconds == pytest.approx((3600 + 300) / 2)
    assert overall.mttr_seconds == overall.time_to_resolve_seconds
    shown = incidents_cli.latest(encode(e) for e in events)
    assert incidents_cli.statistics(shown.values()) == book.stats()
    text = incidents_cli._stats_text(book.stats())
    assert "MTTR to mitigate 7.5 min  MTTR to resolve 32.5 min" in text


def test_the_postmortem_shows_the_mitigation_and_a_restore_keeps_it() -> None:
    book = IncidentBook()
    ident = burn(book)[0].id
    incident = book.incidents[ident]
    draft = postmortem_markdown(incident, [])
    assert f"**Mitigated:** {format_ts(T0 + 600)} (10 min 00 s: the pages stopped)" in draft
    assert f"| {format_ts(T0 + 600)} | mitigated | no page fires any more" in draft
    copy = IncidentBook()
    records = [orjson.loads(orjson.dumps(incident_record(i))) for i in book.incidents.values()]
    restore_book(copy, orjson.loads(orjson.dumps(book_meta(book))), records)
    assert copy.incidents == book.incidents
    [again] = copy.on_alert(alert("page-fast", "firing", T0 + 700))
    assert again.event == "reopened"


def test_tail_shows_the_mitigation_with_what_still_fires() -> None:
    mitigated = burn(IncidentBook())[-1]
    line = render_incident(mitigated)
    assert " incident mitigated " in line and line.endswith("still firing: ticket-slow")
