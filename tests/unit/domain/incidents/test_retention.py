"""Retention: resolved incidents leave the book after `incidents.retention`; statistics stay."""

from __future__ import annotations

import orjson
import pytest

from streams.cli import incidents as incidents_cli
from streams.domain.incidents.book import (
    IncidentBook,
    IncidentPolicy,
    book_meta,
    incident_record,
    restore_book,
)
from streams.domain.notify.receivers import NotifyConfig, Receiver, Route
from streams.domain.slo.loader import SloFileError, parse_slo_text
from streams.domain.timestamps import format_ts
from streams.wire.codec import encode
from streams.wire.incidents import IncidentEvent
from tests.unit.conftest import BASE, T0, alert, command

HOUR = 3600.0


def day_of_incidents(book: IncidentBook) -> list[IncidentEvent]:
    """One incident every two hours over a day, each resolved 10 minutes after it opened (the
    first acknowledged after 60 s), and one still open at the end."""
    events: list[IncidentEvent] = []
    for n in range(12):
        at, series = T0 + n * 2 * HOUR, {"region": f"r{n}"}
        events += book.on_alert(alert("page-fast", "firing", at, series=series))
        if n == 0:
            events += book.on_command(command("ack", events[0].id, at + 60))
        events += book.on_alert(alert("page-fast", "resolved", at + 600, series=series))
    events += book.on_alert(alert("page-fast", "firing", T0 + 24 * HOUR, series={"r": "x"}))
    return events


def test_resolved_incidents_older_than_retention_leave_and_statistics_keep_counting() -> None:
    book = IncidentBook(IncidentPolicy(retention=HOUR))
    everything = IncidentBook(IncidentPolicy(retention=365 * 86400))
    events = day_of_incidents(book)
    day_of_incidents(everything)
    # At T0 + 24h every one resolved before T0 + 23h has gone (the last resolved at 22h10m):
    # only the open one stays.
    kept = {i.slo + str(i.series) for i in book.incidents.values()}
    assert kept == {"checkout-availability{'r': 'x'}"}
    retired = [e for e in events if e.event == "retired"]
    assert len(retired) == 12 and all(e.status == "resolved" for e in retired)
    assert retired[0].at == format_ts(T0 + 600 + HOUR), "an hour after its resolution"
    assert book.stats() == everything.stats(), "statistics count every incident"
    overall = book.stats().overall
    assert overall.incidents == 13 and overall.open == 1
    assert overall.mtta_seconds == pytest.approx(60)
    assert overall.time_to_resolve_seconds == pytest.approx(600)
    # The CLI: retired incidents leave the listing, and still count in the statistics.
    shown = incidents_cli.latest(encode(e) for e in events)
    assert incidents_cli.statistics(shown.values()) == book.stats()
    assert [i.id for i in shown.values() if i.event != "retired"] == list(book.incidents)


def test_a_series_firing_again_after_its_incident_retired_opens_a_new_one() -> None:
    book = IncidentBook(IncidentPolicy(retention=HOUR, reopen_within=2 * HOUR))
    [first] = book.on_alert(alert("page-fast", "firing", T0))
    book.on_alert(alert("page-fast", "resolved", T0 + 60))
    events = book.on_alert(alert("page-fast", "firing", T0 + 90 * 60))
    assert [e.event for e in events] == ["retired", "opened"] and events[1].id != first.id


def test_a_reopened_incident_is_not_retired_by_its_earlier_resolution() -> None:
    book = IncidentBook(IncidentPolicy(retention=HOUR))
    [first] = book.on_alert(alert("page-fast", "firing", T0))
    book.on_alert(alert("page-fast", "resolved", T0 + 60))
    [reopened] = book.on_alert(alert("page-fast", "firing", T0 + 120))
    assert reopened.event == "reopened"
    assert book.advance(T0 + 5 * HOUR) == [] and first.id in book.incidents


def test_a_restore_holds_exactly_the_retained_set_and_the_totals() -> None:
    book = IncidentBook(IncidentPolicy(retention=HOUR))
    day_of_incidents(book)
    copy = IncidentBook(IncidentPolicy(retention=HOUR))
    records = [orjson.loads(orjson.dumps(incident_record(i))) for i in book.incidents.values()]
    restore_book(copy, orjson.loads(orjson.dumps(book_meta(book))), records)
    assert copy.incidents == book.incidents and copy.stats() == book.stats()
    ident = next(iter(copy.incidents))
    later = [e.event for e in copy.on_alert(alert("page-fast", "resolved", T0 + 25 * HOUR,
                                                  series={"r": "x"}))]
    assert later == ["resolved"]
    assert [e.event for e in copy.advance(T0 + 26 * HOUR + 1)] == ["retired"]
    assert ident not in copy.incidents and copy.stats().overall.incidents == 13


def test_no_receiver_hears_of_a_retirement() -> None:
    config = NotifyConfig(receivers={"hook": Receiver("hook", "raw", "http://127.0.0.1:9/")},
                          routes=(Route("hook"),))
    book = IncidentBook(IncidentPolicy(retention=HOUR))
    book.on_alert(alert("page-fast", "firing", T0))
    book.on_alert(alert("page-fast", "resolved", T0 + 60))
    [retired] = book.advance(T0 + 2 * HOUR)
    assert retired.event == "retired" and config.receivers_for(retired) == []


def test_retention_is_read_from_the_slo_file_and_checked() -> None:
    assert parse_slo_text(BASE).incidents.retention == 30 * 86400
    assert parse_slo_text(BASE + "incidents: {retention: 1h}\n").incidents.retention == HOUR
    with pytest.raises(SloFileError, match=r"incidents\.retention: must be a duration"):
        parse_slo_text(BASE + "incidents: {retention: forever}\n")
