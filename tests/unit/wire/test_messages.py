"""Typed topic messages: real outputs decode into their types and encode back byte for byte."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import msgspec
import orjson
import pytest

from streams.domain.incidents.book import EscalationLevel, IncidentBook, IncidentPolicy
from streams.domain.incidents.noise import NoiseBook
from streams.domain.timestamps import format_ts, parse_ts
from streams.wire import (
    Alert,
    Command,
    WireError,
    decode_alert,
    decode_alert_stats,
    decode_budget,
    decode_command,
    decode_dead_letter,
    decode_incident,
    decode_requests,
    encode,
)
from streams.wire.codec import convert
from streams.wire.dead_letter import dead_letter
from streams.wire.requests import CountEvent, RequestEvent
from streams.wire.schemas import SCHEMA_DIR, drift, main
from streams.wire.topics import MESSAGES
from tests.conftest import assert_valid, load_schema

EXPECTED = Path(__file__).resolve().parents[2] / "golden" / "expected"
T0 = parse_ts("2026-11-23T02:00:00Z")


def _lines(name: str) -> list[bytes]:
    path = EXPECTED / name
    data = gzip.decompress(path.read_bytes()) if name.endswith(".gz") else path.read_bytes()
    return data.splitlines()


@pytest.mark.parametrize(("name", "decoder"), [
    ("alerts.jsonl", decode_alert), ("budgets.jsonl.gz", decode_budget),
    ("dead-letters.jsonl", decode_dead_letter)])
def test_golden_outputs_decode_and_encode_back_byte_for_byte(name: str, decoder: object) -> None:
    lines = _lines(name)
    assert lines
    for line in lines:
        assert encode(decoder(line)) == line  # type: ignore[operator]


def test_large_exponents_are_written_as_before() -> None:
    budget = decode_budget(_lines("budgets.jsonl.gz")[0])
    huge = msgspec.structs.replace(budget, error_budget_remaining=-1.5e300)
    assert b'"error_budget_remaining":-1.5e+300' in encode(huge)


def alert(rule: str, status: str, at: float, **extra: object) -> Alert:
    return convert({
        "kind": "alert", "version": 1, "id": f"id-{rule}", "status": status,
        "slo": "checkout-availability", "service": "checkout", "series": {"region": "eu"},
        "rule": rule, "severity": "page" if rule.startswith("page") else "ticket",
        "long_window": "1h", "short_window": "5m", "threshold": 14.4, "burn_rate_long": 20.0,
        "burn_rate_short": 30.0, "error_budget_remaining": 0.9, "at": format_ts(at),
        "started_at": format_ts(at), "labels": {"team": "payments"},
        "annotations": {"summary": "...", "runbook_url": "https://runbooks.example/c"},
        **extra}, Alert, "alert")


INCIDENT_KEYS = ["kind", "version", "id", "event", "status", "severity", "title", "service",
                 "slo", "series", "alerts", "opened_at", "acknowledged_at", "resolved_at",
                 "escalation_level", "assignee", "at", "labels", "error_budget_remaining",
                 "error_budget_consumed", "bad_events", "detected_after", "runbook_url"]


def test_incident_events_of_every_kind_keep_their_layout_and_validate() -> None:
    book = IncidentBook(IncidentPolicy(escalation=(EscalationLevel(300, ("primary",)),)))
    events = book.on_alert(alert("page-fast", "firing", T0, period_bad_events=3,
                                 burning_since=format_ts(T0 - 60)))
    events += book.on_alert(alert("ticket-fast", "firing", T0 + 10))
    events += book.advance(T0 + 400)
    ident = events[0].id
    events += book.on_command(Command(command="ack", incident=ident, by="al", ts=T0 + 500))
    events += book.on_command(Command(command="assign", incident=ident, by="al",
                                      assignee="bo", ts=T0 + 510))
    events += book.on_alert(alert("page-fast", "resolved", T0 + 900))
    events += book.on_alert(alert("ticket-fast", "resolved", T0 + 900))
    events += book.on_alert(alert("page-fast", "firing", T0 + 1000))
    assert {e.event for e in events} == {"opened", "escalated", "acknowledged", "updated",
                                         "mitigated", "resolved", "reopened"}
    for event in events:
        data = encode(event)
        assert decode_incident(data) == event
        assert_valid("incident", orjson.loads(data))
    opened = orjson.loads(encode(events[0]))
    assert list(opened) == INCIDENT_KEYS, "nulls written, absent options omitted, in order"
    assert opened["acknowledged_at"] is None and "notify" not in opened
    assert [e.notify for e in events if e.event == "escalated"] == [["primary"]]


def test_alert_statistics_validate_against_their_schema() -> None:
    noise = NoiseBook()
    rows = [noise.on_alert(alert("page-fast", "firing", T0)),
            noise.on_alert(alert("page-fast", "resolved", T0 + 120))]
    for row in rows:
        assert decode_alert_stats(encode(row)) == row
        assert_valid("alert-stats", orjson.loads(encode(row)))


def test_a_dead_letter_keeps_its_bytes_and_cuts_the_payload_at_4_kib() -> None:
    record = dead_letter("bad", "sre.requests", 2, 7, b"x" * 5000)
    assert encode(record) == (b'{"kind":"dead-letter","version":1,"reason":"bad",'
                                    b'"topic":"sre.requests","partition":2,"offset":7,'
                                    b'"payload":"' + b"x" * 4096 + b'"}')


def test_decoding_errors_name_the_field_at_fault() -> None:
    with pytest.raises(WireError, match=r"invalid alert: Object missing required field `id`"):
        decode_alert(b'{"kind": "alert", "version": 1}')
    with pytest.raises(WireError, match=r"invalid command: Expected `str`.*\$\.by"):
        decode_command(b'{"command": "ack", "by": 5, "ts": 1}')
    with pytest.raises(WireError, match="not JSON"):
        decode_alert(b"{nope")


def test_the_from_of_a_silence_is_read_from_its_wire_name() -> None:
    silence = decode_command(b'{"command": "silence", "by": "al", "ts": 1, "from": 5, '
                             b'"until": 9, "match": {"service": "checkout"}}')
    assert silence.starts == 5 and silence.match == {"service": "checkout"}


def test_request_batches_split_into_request_and_count_events_with_their_attributes() -> None:
    events = decode_requests(b'[{"ts": 1, "service": "checkout", "status": 503, "region": "eu"},'
                             b' {"ts": 2, "slo": "lb", "good": 4, "total": 5}]')
    assert events == [RequestEvent(ts=1, service="checkout", status=503,
                                   attributes={"region": "eu"}),
                      CountEvent(ts=2, slo="lb", good=4, total=5)]
    with pytest.raises(WireError, match="good > total"):
        decode_requests(b'{"ts": 2, "slo": "lb", "good": 6, "total": 5}')
    with pytest.raises(WireError, match="good must be >= 0"):
        decode_requests(b'{"ts": 2, "slo": "lb", "good": -1, "total": 5}')


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_the_schema_examples_decode_into_their_types(name: str) -> None:
    examples = load_schema(name).get("examples", [])
    for example in examples:
        if name == "request-event" or name == "count-event":
            decode_requests(orjson.dumps(example))
        else:
            convert(example, MESSAGES[name], name)


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_every_schema_file_is_in_step_with_its_type(name: str) -> None:
    assert drift(name, load_schema(name)) == []


def test_a_schema_that_drifted_fails_the_check_and_write_repairs_it(tmp_path: Path) -> None:
    for path in SCHEMA_DIR.glob("*.json"):
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    assert main(["--check", "--dir", str(tmp_path)]) == 0
    drifted = json.loads((tmp_path / "deploy.schema.json").read_text(encoding="utf-8"))
    del drifted["properties"]["change_class"]
    drifted["required"].remove("service")
    (tmp_path / "deploy.schema.json").write_text(json.dumps(drifted), encoding="utf-8")
    assert main(["--check", "--dir", str(tmp_path)]) == 1
    assert main(["--write", "--dir", str(tmp_path)]) == 0
    repaired = json.loads((tmp_path / "deploy.schema.json").read_text(encoding="utf-8"))
    assert repaired["required"] == ["ts", "service"]
    assert repaired["properties"]["change_class"] == {"type": "string"}
    assert main(["--check", "--dir", str(tmp_path)]) == 0
