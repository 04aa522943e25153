"""The JSON Schemas in `schemas/`: well-formed, resolvable offline, true to the contract."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing.exceptions import Unresolvable

from tests.conftest import (
    ID_PREFIX,
    SCHEMA_DIR,
    assert_valid,
    load_registry,
    load_schema,
    load_validator,
    schema_errors,
    schema_files,
)

FILE_NAMES = [path.name for path in schema_files()]

# Every topic of contracts §2 that has a fixed message shape today.
TOPIC_FILES = {
    "sre.requests": "sre.requests.schema.json",
    "sre.alerts": "sre.alerts.schema.json",
    "sre.budgets": "sre.budgets.schema.json",
    "sre.dead-letter": "sre.dead-letter.schema.json",
    "sre.incidents": "sre.incidents.schema.json",
    "sre.commands": "sre.commands.schema.json",
    "sre.deploys": "sre.deploys.schema.json",
    "sre.policy": "sre.policy.schema.json",
    "sre.alert-stats": "sre.alert-stats.schema.json",
    "sre.resources": "sre.resources.schema.json",
    "sre.capacity": "sre.capacity.schema.json",
}


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


# --- the files themselves ---------------------------------------------------


def test_the_expected_files_exist() -> None:
    expected = {
        "common.schema.json",
        "request-event.schema.json",
        "count-event.schema.json",
        "alert.schema.json",
        "budget.schema.json",
        "dead-letter.schema.json",
        "incident.schema.json",
        "command.schema.json",
        "deploy.schema.json",
        "tune-report.schema.json",
        "policy.schema.json",
        "alert-stats.schema.json",
        *TOPIC_FILES.values(),
    }
    assert expected <= set(FILE_NAMES)
    assert (SCHEMA_DIR / "README.md").is_file()


def test_no_stray_json_files() -> None:
    """Every JSON file in the folder is a schema the registry picks up."""
    assert {p.name for p in SCHEMA_DIR.glob("*.json")} == set(FILE_NAMES)


@pytest.mark.parametrize("name", FILE_NAMES)
def test_schema_is_valid_draft_2020_12(name: str) -> None:
    schema = load_schema(name)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("name", FILE_NAMES)
def test_id_matches_file_name(name: str) -> None:
    assert load_schema(name)["$id"] == ID_PREFIX + name


@pytest.mark.parametrize("name", FILE_NAMES)
def test_every_ref_resolves_offline(name: str) -> None:
    schema = load_schema(name)
    resolver = load_registry().resolver(base_uri=schema["$id"])
    refs = list(_refs(schema))
    for ref in refs:
        # Relative refs by file name only: never an absolute URL that would need a network.
        assert not ref.startswith(("http://", "https://")), ref
        resolved = resolver.lookup(ref)
        assert isinstance(resolved.contents, dict | bool), ref


def test_registry_does_not_fetch_unknown_uris() -> None:
    resolver = load_registry().resolver(base_uri=ID_PREFIX + "alert.schema.json")
    with pytest.raises(Unresolvable):
        resolver.lookup("no-such.schema.json")


WITH_EXAMPLES = [name for name in FILE_NAMES if load_schema(name).get("examples")]


@pytest.mark.parametrize("name", WITH_EXAMPLES)
def test_examples_inside_schemas_are_valid(name: str) -> None:
    for example in load_schema(name)["examples"]:
        assert_valid(name, example)


@pytest.mark.parametrize(("topic", "file_name"), sorted(TOPIC_FILES.items()))
def test_topic_files_load_by_topic_name(topic: str, file_name: str) -> None:
    assert load_validator(topic) is load_validator(file_name)
    assert load_validator(topic).schema is load_schema(file_name)


def test_output_schemas_allow_future_keys() -> None:
    for name in ("alert", "budget", "dead-letter", "incident", "policy"):
        assert load_schema(name).get("additionalProperties", True) is not False


def test_count_event_documents_the_good_le_total_gap() -> None:
    assert "good <= total" in load_schema("count-event")["description"]


def test_unknown_schema_name_is_a_clear_error() -> None:
    with pytest.raises(FileNotFoundError, match="no schema"):
        load_validator("sre.nope")


def test_schema_files_are_pretty_printed_json() -> None:
    for path in schema_files():
        text = path.read_text(encoding="utf-8")
        assert text.endswith("\n"), path.name
        json.loads(text)


# --- example documents ------------------------------------------------------

REQUEST = {
    "ts": "2026-11-23T20:00:00.123Z",
    "service": "checkout",
    "operation": "POST /orders",
    "status": 200,
    "ok": True,
    "latency_ms": 41.5,
    "region": "eu",
}

COUNT = {
    "ts": 1795464000,
    "slo": "checkout-availability",
    "good": 9990,
    "total": 10000,
    "series": {"region": "eu"},
}

ALERT = {
    "kind": "alert",
    "version": 1,
    "id": "a1b2c3",
    "status": "firing",
    "slo": "checkout-availability",
    "service": "checkout",
    "series": {"region": "eu"},
    "rule": "page-fast",
    "severity": "page",
    "long_window": "1h",
    "short_window": "5m",
    "threshold": 14.4,
    "burn_rate_long": 20.2,
    "burn_rate_short": 31.0,
    "error_budget_remaining": 0.91,
    "at": "2026-11-23T20:00:50.000Z",
    "started_at": "2026-11-23T20:00:50.000Z",
    "labels": {"team": "payments"},
    "annotations": {"summary": "burning", "runbook_url": "https://runbooks.example/checkout"},
}

BUDGET = {
    "kind": "budget",
    "version": 1,
    "slo": "checkout-availability",
    "service": "checkout",
    "series": {},
    "at": "2026-11-23T20:00:50.000Z",
    "objective": 0.999,
    "window": "30d",
    "good": 999,
    "total": 1000,
    "sli": 0.999,
    "error_budget_remaining": 0.0,
    "burn_rates": {"5m": 0.0, "1h": 1.5, "30d": 1.0},
    "firing": ["page-fast"],
    "labels": {},
}

DEAD_LETTER = {
    "kind": "dead-letter",
    "version": 1,
    "reason": "bad JSON",
    "topic": "sre.requests",
    "partition": 0,
    "offset": 17,
    "payload": "{not json",
}

_DROP = object()


def _with(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A copy of `base` with keys replaced, or removed when the value is `_DROP`."""
    doc = copy.deepcopy(base)
    for key, value in changes.items():
        if value is _DROP:
            del doc[key]
        else:
            doc[key] = value
    return doc


def _case(schema: str, doc: Any, id_: str) -> Any:
    return pytest.param(schema, doc, id=f"{schema}:{id_}")


VALID = [
    # request events
    _case("request-event", REQUEST, "full"),
    _case("request-event", {"ts": 1795464000, "service": "checkout"}, "minimal-int-ts"),
    _case("request-event", _with(REQUEST, ts=1795464000.25), "float-ts"),
    _case("request-event", _with(REQUEST, ts="2026-11-23T20:00:00Z"), "string-ts-no-fraction"),
    _case("request-event", _with(REQUEST, ts="2026-11-23T21:00:00.5+01:00"), "string-ts-offset"),
    _case("request-event", _with(REQUEST, ts="2026-11-23T20:00:00"), "string-ts-naive"),
    _case("request-event", _with(REQUEST, ts="2026-11-23 20:00:00.123456"), "string-ts-space"),
    _case("request-event", _with(REQUEST, ts="2026-11-23t20:00:00z"), "string-ts-lower-case"),
    _case("request-event", _with(REQUEST, status=100), "status-100"),
    _case("request-event", _with(REQUEST, status=599), "status-599"),
    _case("request-event", _with(REQUEST, latency_ms=0), "latency-0"),
    _case("request-event", _with(REQUEST, shard=3, canary=False), "extra-number-and-bool"),
    # count events
    _case("count-event", COUNT, "full"),
    _case("count-event", _with(COUNT, series=_DROP), "no-series"),
    _case("count-event", _with(COUNT, good=0, total=0), "zero-counts"),
    _case("count-event", _with(COUNT, ts="2026-11-23T20:00:00-05:00"), "string-ts"),
    # the input topic
    _case("sre.requests", REQUEST, "one-request"),
    _case("sre.requests", COUNT, "one-count"),
    _case("sre.requests", [REQUEST, COUNT, REQUEST], "batch"),
    _case("sre.requests", [COUNT], "batch-of-one"),
    # alerts
    _case("sre.alerts", ALERT, "firing"),
    _case("alert", _with(ALERT, status="resolved", at="2026-11-23T20:30:00.000Z"), "resolved"),
    _case("alert", _with(ALERT, severity="ticket", long_window="3d", short_window="6h"), "ticket"),
    _case("alert", _with(ALERT, severity="warn"), "custom-severity"),
    _case("alert", _with(ALERT, long_window="36h", short_window="90s"), "odd-durations"),
    _case("alert", _with(ALERT, long_window="2w", short_window="0.5s"), "fractional-duration"),
    _case("alert", _with(ALERT, error_budget_remaining=-2.5), "budget-overspent"),
    _case("alert", _with(ALERT, burn_rate_long=0, burn_rate_short=0), "zero-burn"),
    _case("alert", _with(ALERT, series={}, labels={}), "no-series-no-labels"),
    _case("alert", _with(ALERT, annotations={"summary": "s"}), "summary-only"),
    _case(
        "alert",
        _with(ALERT, annotations={"summary": "s", "description": "d", "dashboard": "x"}),
        "extra-annotation",
    ),
    _case("alert", _with(ALERT, fingerprint="abc", notes=[1, 2]), "future-top-level-keys"),
    # budgets
    _case("sre.budgets", BUDGET, "full"),
    _case("budget", _with(BUDGET, good=0, total=0, sli=1, burn_rates={}, firing=[]), "empty"),
    _case("budget", _with(BUDGET, error_budget_remaining=-9.0), "overspent"),
    _case("budget", _with(BUDGET, forecast={"exhausted_at": None}), "future-key"),
    # dead letters
    _case("sre.dead-letter", DEAD_LETTER, "full"),
    _case("dead-letter", _with(DEAD_LETTER, partition=-1, offset=-1), "unknown-position"),
    _case("dead-letter", _with(DEAD_LETTER, payload="x" * 4096), "payload-4096"),
    _case("dead-letter", _with(DEAD_LETTER, payload=""), "empty-payload"),
]

INVALID = [
    # request events
    _case("request-event", _with(REQUEST, status=700), "status-700"),
    _case("request-event", _with(REQUEST, status=99), "status-99"),
    _case("request-event", _with(REQUEST, status="200"), "status-string"),
    _case("request-event", _with(REQUEST, status=200.5), "status-fraction"),
    _case("request-event", _with(REQUEST, ts=_DROP), "no-ts"),
    _case("request-event", _with(REQUEST, service=_DROP), "no-service"),
    _case("request-event", _with(REQUEST, service=""), "empty-service"),
    _case("request-event", _with(REQUEST, service=7), "service-number"),
    _case("request-event", _with(REQUEST, ts="yesterday"), "ts-words"),
    _case("request-event", _with(REQUEST, ts="2026-11-23"), "ts-date-only"),
    _case("request-event", _with(REQUEST, ts=946684799), "ts-before-2000"),
    _case("request-event", _with(REQUEST, ts="2026-11-23T20:00:00.1234567890Z"), "ts-ten-fraction-digits"),
    _case("request-event", _with(REQUEST, ts=True), "ts-bool"),
    _case("request-event", _with(REQUEST, ts=None), "ts-null"),
    _case("request-event", _with(REQUEST, latency_ms=-1), "negative-latency"),
    _case("request-event", _with(REQUEST, latency_ms="5"), "latency-string"),
    _case("request-event", _with(REQUEST, ok="yes"), "ok-string"),
    _case("request-event", _with(REQUEST, operation=3), "operation-number"),
    _case("request-event", _with(REQUEST, region=None), "extra-null"),
    _case("request-event", _with(REQUEST, tags=["a"]), "extra-array"),
    _case("request-event", _with(REQUEST, meta={"a": "b"}), "extra-object"),
    _case("request-event", _with(REQUEST, slo="checkout-availability"), "has-slo"),
    _case("request-event", _with(REQUEST, good=1), "has-good"),
    _case("request-event", _with(REQUEST, total=1), "has-total"),
    _case("request-event", [REQUEST], "array"),
    # count events
    _case("count-event", _with(COUNT, good=-1), "negative-good"),
    _case("count-event", _with(COUNT, total=-1), "negative-total"),
    _case("count-event", _with(COUNT, good=1.5), "fractional-good"),
    _case("count-event", _with(COUNT, good=_DROP), "no-good"),
    _case("count-event", _with(COUNT, total=_DROP), "no-total"),
    _case("count-event", _with(COUNT, slo=_DROP), "no-slo"),
    _case("count-event", _with(COUNT, ts=_DROP), "no-ts"),
    _case("count-event", _with(COUNT, slo="Checkout_Availability"), "bad-slo-name"),
    _case("count-event", _with(COUNT, slo=""), "empty-slo-name"),
    _case("count-event", _with(COUNT, series={"region": 1}), "series-number-value"),
    _case("count-event", _with(COUNT, series=["eu"]), "series-array"),
    # the input topic
    _case("sre.requests", [], "empty-batch"),
    _case("sre.requests", [REQUEST, {"ts": 1}], "batch-with-bad-event"),
    _case("sre.requests", [[REQUEST]], "nested-batch"),
    _case("sre.requests", "hello", "string"),
    _case("sre.requests", None, "null"),
    _case("sre.requests", _with(REQUEST, slo="checkout-availability"), "request-with-slo"),
    _case("sre.requests", _with(COUNT, slo=_DROP, service="checkout"), "count-without-slo"),
    # alerts
    _case("sre.alerts", _with(ALERT, id=_DROP), "no-id"),
    _case("alert", _with(ALERT, at="2026-11-23T20:00:50Z"), "at-without-ms"),
    _case("alert", _with(ALERT, at="2026-11-23T20:00:50.000+00:00"), "at-with-offset"),
    _case("alert", _with(ALERT, started_at="2026-11-23T20:00:50.000"), "started-at-naive"),
    _case("alert", _with(ALERT, at=1795464050), "at-epoch"),
    _case("alert", _with(ALERT, kind="budget"), "wrong-kind"),
    _case("alert", _with(ALERT, version=2), "version-2"),
    _case("alert", _with(ALERT, status="pending"), "unknown-status"),
    _case("alert", _with(ALERT, long_window="1 hour"), "window-words"),
    _case("alert", _with(ALERT, short_window="5"), "window-no-unit"),
    _case("alert", _with(ALERT, short_window="5M"), "window-upper-case-unit"),
    _case("alert", _with(ALERT, threshold=0), "zero-threshold"),
    _case("alert", _with(ALERT, burn_rate_long=-0.1), "negative-burn"),
    _case("alert", _with(ALERT, severity=""), "empty-severity"),
    _case("alert", _with(ALERT, labels={"team": 1}), "label-number"),
    _case("alert", _with(ALERT, series={"region": None}), "series-null"),
    _case("alert", _with(ALERT, annotations={"runbook_url": "https://x"}), "no-summary"),
    _case("alert", _with(ALERT, annotations={"summary": "s", "n": 1}), "annotation-number"),
    *(_case("alert", _with(ALERT, **{key: _DROP}), f"no-{key}") for key in ALERT if key != "id"),
    # budgets
    _case("sre.budgets", _with(BUDGET, objective=1), "objective-1"),
    _case("budget", _with(BUDGET, objective=0), "objective-0"),
    _case("budget", _with(BUDGET, sli=1.01), "sli-over-1"),
    _case("budget", _with(BUDGET, good=-1), "negative-good"),
    _case("budget", _with(BUDGET, window="30 days"), "window-words"),
    _case("budget", _with(BUDGET, burn_rates={"1 hour": 1.0}), "burn-rate-bad-key"),
    _case("budget", _with(BUDGET, burn_rates={"1h": -1.0}), "negative-burn-rate"),
    _case("budget", _with(BUDGET, firing="page-fast"), "firing-string"),
    _case("budget", _with(BUDGET, firing=["page-fast", "page-fast"]), "firing-duplicates"),
    _case("budget", _with(BUDGET, at="2026-11-23T20:00:50Z"), "at-without-ms"),
    _case("budget", _with(BUDGET, kind="alert"), "wrong-kind"),
    *(_case("budget", _with(BUDGET, **{key: _DROP}), f"no-{key}") for key in BUDGET),
    # dead letters
    _case("sre.dead-letter", _with(DEAD_LETTER, payload="x" * 4097), "payload-too-long"),
    _case("dead-letter", _with(DEAD_LETTER, partition=-2), "partition-minus-2"),
    _case("dead-letter", _with(DEAD_LETTER, offset=-2), "offset-minus-2"),
    _case("dead-letter", _with(DEAD_LETTER, offset="17"), "offset-string"),
    _case("dead-letter", _with(DEAD_LETTER, payload=1), "payload-number"),
    _case("dead-letter", _with(DEAD_LETTER, kind="dead_letter"), "wrong-kind"),
    *(_case("dead-letter", _with(DEAD_LETTER, **{key: _DROP}), f"no-{key}") for key in DEAD_LETTER),
]


@pytest.mark.parametrize(("schema", "doc"), VALID)
def test_valid_documents_pass(schema: str, doc: Any) -> None:
    assert_valid(schema, doc)


@pytest.mark.parametrize(("schema", "doc"), INVALID)
def test_invalid_documents_fail(schema: str, doc: Any) -> None:
    assert schema_errors(schema, doc), f"{schema} accepted {doc!r}"


def test_topic_and_shape_schemas_agree() -> None:
    """A topic file accepts and rejects exactly what its shape file does."""
    pairs = {"sre.alerts": "alert", "sre.budgets": "budget", "sre.dead-letter": "dead-letter"}
    docs = [ALERT, BUDGET, DEAD_LETTER, _with(ALERT, id=_DROP), _with(BUDGET, sli=2)]
    for topic, shape in pairs.items():
        for doc in docs:
            assert bool(schema_errors(topic, doc)) == bool(schema_errors(shape, doc))


def test_request_and_count_events_never_overlap() -> None:
    """Each valid input event matches exactly one shape (what `oneOf` in sre.requests needs)."""
    for doc in (REQUEST, COUNT, _with(COUNT, service="checkout", region="eu")):
        matches = [name for name in ("request-event", "count-event") if not schema_errors(name, doc)]
        assert len(matches) == 1, (doc, matches)


def test_errors_name_the_offending_field() -> None:
    errors = schema_errors("sre.requests", [_with(REQUEST, status=700)])
    assert any("$[0].status" in line and "599" in line for line in errors), errors


def test_commands_need_their_own_fields() -> None:
    validator = load_validator("sre.commands")
    base = {"incident": "inc-3f2a9c1e0b7d", "by": "alice", "ts": "2026-11-23T20:02:00Z"}
    assert validator.is_valid({**base, "command": "ack"})
    assert not validator.is_valid({**base, "command": "note"}), "a note needs its text"
    assert not validator.is_valid({**base, "command": "assign"}), "assign needs an assignee"
    assert not validator.is_valid({**base, "command": "page"})
    assert not validator.is_valid({"command": "ack", "by": "alice", "ts": 1795464000}), "ack names one"
    silence = {"command": "silence", "match": {"service": "checkout"}, "by": "alice", "ts": 1795464000,
               "until": "2026-11-24T00:00:00Z"}
    assert validator.is_valid(silence)
    assert not validator.is_valid({**silence, "match": {}})
