"""No single message takes a partition down: each poison kind is dead-lettered with its reason,
and what follows it is counted (issue: hostile input)."""

from __future__ import annotations

import time

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.domain.engine.classify import MAX_COUNT, MAX_LABEL
from streams.domain.engine.evaluation import EngineSettings
from streams.domain.engine.reasons import reason_class
from streams.domain.slo.loader import parse_slo_text
from streams.runtime.engine.partition import PartitionProcessor
from streams.wire.codec import encode

SLOS = parse_slo_text("""
apiVersion: sre-streams/v1
defaults: {window: 1d, alerting: quick}
alerting:
  quick:
    - {name: fast, severity: page, long: 1h, short: 10m, budget_percent: 2}
slos:
  - {name: web, service: web, objective: 0.99, sli: {availability: {}}, group_by: [region]}
  - {name: lb, service: lb, objective: 0.99, sli: {availability: {}}}
""")
NOW = time.time()


def processor() -> PartitionProcessor:
    return PartitionProcessor(SLOS, EngineSettings(), "sre.requests", 0,
                              max_message_bytes=1 << 20, max_future=300.0)


def good(ts: float = NOW - 60) -> bytes:
    return orjson.dumps({"ts": ts, "service": "web", "region": "eu", "status": 200})


def run(messages: list[bytes | None]) -> tuple[PartitionProcessor, list[tuple[int, str]]]:
    proc = processor()
    out = proc.process(list(enumerate(messages)), time.time())
    for message in [*out.alerts, *out.budgets, *out.dead_letters]:
        encode(message)  # everything it made can be published
    return proc, [(d.offset, d.reason) for d in out.dead_letters]


def nested(depth: int) -> object:
    value: object = "deep"
    for _ in range(depth):
        value = {"inner": value}
    return value


def test_an_array_element_nested_300_levels_is_dead_lettered() -> None:
    deep = b'[{"ts": %f, "service": "web", "status": "bad", "x": ' % (NOW - 60) \
        + b'{"a": ' * 300 + b"1" + b"}" * 300 + b"}]"
    proc, dead = run([good(), deep, good()])
    assert dead == [(1, "status must be an integer")]  # its payload cannot be re-encoded
    assert proc.offset == 2 and proc.stats.events >= 2


def test_a_huge_label_value_is_refused_before_it_reaches_an_alert() -> None:
    huge = orjson.dumps({"ts": NOW - 60, "service": "web", "region": "x" * 900_000, "status": 500})
    proc, dead = run([good(), huge, good()])
    assert dead == [(1, f"region longer than {MAX_LABEL} characters")]
    assert proc.offset == 2


def test_a_huge_label_in_a_long_batch_is_refused_on_the_column_path_too() -> None:
    events = [{"ts": NOW - 60, "service": "web", "region": "eu", "status": 200}] * 999
    events.insert(500, {"ts": NOW - 60, "service": "web", "region": "y" * 300, "status": 200})
    proc, dead = run([orjson.dumps(events)])
    assert dead == [(0, f"region longer than {MAX_LABEL} characters")]
    assert proc.stats.events == 1000


def test_counts_beyond_what_json_carries_are_refused() -> None:
    count = orjson.dumps({"ts": NOW - 60, "slo": "lb", "good": 2**64 - 1, "total": 2**64 - 1})
    assert run([count, good()])[1] == [(0, f"good must be <= {MAX_COUNT:,}")]
    bounded = orjson.dumps({"ts": NOW - 60, "slo": "lb", "good": 0, "total": MAX_COUNT + 1})
    assert run([bounded])[1] == [(0, f"total must be <= {MAX_COUNT:,}")]


def test_an_event_of_1970_then_one_of_now_neither_stalls_nor_counts_the_first() -> None:
    started = time.monotonic()
    _, dead = run([orjson.dumps({"ts": 0, "service": "nobody", "status": 200}), good()])
    assert time.monotonic() - started < 5
    assert dead == [(0, "invalid ts: ts out of range (years 2000 to 9999)")]


ints = st.integers(-(2**63), 2**64 - 1)  # what JSON producers can write (orjson's range)
json_values = st.recursive(
    st.none() | st.booleans() | ints | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["ts", "service", "status", "region", "slo", "good", "total", "ok",
                         "latency_ms", "series", "x"]), inner, max_size=6),
    max_leaves=20)
fields = st.fixed_dictionaries({}, optional={
    "ts": st.one_of(st.floats(), ints, st.just(NOW - 30), st.text(max_size=30)),
    "service": st.sampled_from(["web", "lb", "", "other"]) | json_values,
    "region": json_values, "status": st.integers(-1, 1000) | json_values,
    "slo": st.sampled_from(["lb", "web", "nope"]) | json_values,
    "good": ints | json_values, "total": ints | json_values,
    "series": json_values, "latency_ms": st.floats() | json_values, "ok": json_values,
})
message = st.one_of(
    fields.map(lambda e: orjson.dumps(e, option=orjson.OPT_NON_STR_KEYS)),
    st.lists(fields, max_size=5).map(lambda es: orjson.dumps(es, option=orjson.OPT_NON_STR_KEYS)),
    st.binary(max_size=40), st.none(),
)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(message, min_size=1, max_size=12))
def test_no_message_escapes_counting_or_the_dead_letter_topic(messages: list[bytes | None]) -> None:
    proc, dead = run(messages)
    assert proc.offset == len(messages) - 1  # every message passed, none stopped the partition
    assert sum(proc.stats.dead_letters.values()) == len(dead)  # every refusal is published
    refused = {offset for offset, _ in dead}
    for offset, raw in enumerate(messages):
        if offset not in refused:  # counted: it was an event or a non-empty array of them
            decoded = orjson.loads(raw or b"null")
            assert type(decoded) is dict or (type(decoded) is list and decoded), raw


def test_a_thousand_invented_slo_names_make_one_statistic() -> None:
    names = [orjson.dumps({"ts": NOW - 60, "slo": f"bad-{i}'\"", "good": 1, "total": 1})
             for i in range(1000)]
    proc, dead = run(names)
    assert len(dead) == 1000 and len({reason for _, reason in dead}) == 1000
    assert dict(proc.stats.dead_letters) == {"unknown SLO": 1000}


def test_every_reason_the_path_gives_has_a_class_of_its_own() -> None:
    samples = [b"", b"[]", b"{", b"7", b'{"ts": 1}', b'{"service": "web"}',
               b'{"ts": "x", "service": "web"}', b'{"ts": %f, "slo": "lb", "good": 2, "total": 1}'
               % NOW, b'{"ts": %f, "service": "web", "status": "ok"}' % NOW]
    _, dead = run([*samples, None])
    assert len(dead) == len(samples) + 1
    assert "other" not in {reason_class(reason) for _, reason in dead}
