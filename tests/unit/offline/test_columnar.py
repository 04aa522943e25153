"""Typed decoding into columns decides exactly as orjson and the dict column path, or declines."""

from __future__ import annotations

import random
import struct
from itertools import pairwise

import msgspec
import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.domain.engine.classify import InvalidEvent
from streams.domain.engine.columns import BatchColumns, ColumnClassifier
from streams.domain.engine.evaluation import Engine, EngineSettings
from streams.domain.engine.typed import TypedClassifier
from streams.offline.columnar import ColumnBatch, FieldSchema
from streams.offline.decoding import decode_batch
from tests.conftest import compiled_decoder
from tests.unit.domain.engine.test_columns import SLOS, START, outcome, traffic

SCHEMA = FieldSchema(SLOS.slos)
MSGSPEC = FieldSchema(SLOS.slos)
MSGSPEC.compiled = False  # msgspec records only: the path where the compiled decoder declines


def same(left: BatchColumns, right: BatchColumns) -> None:
    assert np.array_equal(left.ts, right.ts)
    assert np.array_equal(left.matched, right.matched)
    assert len(left.routes) == len(right.routes)
    for a, b in zip(left.routes, right.routes, strict=True):
        assert a.position == b.position
        assert a.series == b.series
        for x, y in ((a.rows, b.rows), (a.codes, b.codes), (a.good, b.good)):
            assert np.array_equal(x, y)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=traffic(), arrays=st.booleans(), schema=st.sampled_from([SCHEMA, MSGSPEC]))
def test_typed_columns_are_the_dict_columns_or_declined(events: list[object], arrays: bool,
                                                       schema: FieldSchema) -> None:
    values = ([orjson.dumps(events[i:i + 7]) for i in range(0, len(events), 7)] if arrays
              else list(map(orjson.dumps, events)))
    fields = schema.decode(values)
    decoded = decode_batch(values)
    if fields is None:
        return
    assert not decoded.refusals
    assert list(fields.ends) == list(decoded.ends)
    typed = TypedClassifier(SLOS.slos).classify(fields)
    if typed is not None:
        by_dict = ColumnClassifier(SLOS.slos).classify(decoded.events)
        assert by_dict is not None
        same(typed, by_dict)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=traffic(), cuts=st.lists(st.integers(1, 600), max_size=8),
       schema=st.sampled_from([SCHEMA, MSGSPEC]))
def test_batches_with_typed_fields_have_the_effect_of_events_one_by_one(
        events: list[object], cuts: list[int], schema: FieldSchema) -> None:
    settings_ = EngineSettings(lateness=30.0, budget_interval=300.0)
    values = list(map(orjson.dumps, events))
    events = list(decode_batch(values).events)  # as a message holding each decodes (an array: its items)
    values = list(map(orjson.dumps, events))
    one_by_one = Engine(SLOS, settings_)
    expected: list[tuple[int, str]] = []
    for position, event in enumerate(events):
        try:
            one_by_one.ingest(event)
        except InvalidEvent as exc:
            expected.append((position, str(exc)))
    batched = Engine(SLOS, settings_)
    batched.columnar_min = 1
    rejects: list[tuple[int, str]] = []
    for low, high in pairwise(sorted({0, len(events), *[c for c in cuts if c < len(events)]})):
        part = values[low:high]
        fields = schema.decode(part)
        rejects += [(low + i, reason) for i, reason in batched.ingest_batch(
            decode_batch(part).events, fields=fields)]
    assert rejects == expected
    assert outcome(batched) == outcome(one_by_one)


PLAIN = (b'{"ts":%d,"service":"web","region":"eu","status":200,"latency_ms":5.0,'
         b'"operation":"GET /"' % START)


@pytest.mark.parametrize("value", [
    PLAIN + b',"x":1e400}',  # beyond a double where msgspec does not read
    PLAIN + b',"x":1E+309}',
    PLAIN + b',"x":1.5e0400}',
    PLAIN + b',"x":' + b"9" * 320 + b"}",
    PLAIN + b',"x":' + b"9" * 250 + b"e99}",
    PLAIN + b',"x":"\xff"}',  # invalid UTF-8 where msgspec does not read
    PLAIN + b',"x":"\xed\xa0\x80"}',  # an encoded surrogate
    PLAIN + b',"x":"\\ud800"}',
    PLAIN + b'},' + PLAIN + b"}",  # two documents in one message
    PLAIN + b',"x":' + b"[" * 1100 + b"]" * 1100 + b"}",
    PLAIN + b',"status":200.0}',
    PLAIN + b',"region":1}',
    PLAIN + b',"slo":"web-availability"}',
    b"[]",
    b"",
])
def test_what_orjson_refuses_or_reads_otherwise_is_declined(value: bytes) -> None:
    good = PLAIN + b"}"
    assert SCHEMA.decode([good, good]) is not None
    fields = SCHEMA.decode([good, value, good])
    assert fields is None or TypedClassifier(SLOS.slos).classify(fields) is None


def test_hex_and_words_do_not_decline() -> None:
    value = PLAIN + b',"trace":"3e123f0e000","pod":"e000,1e3"}'
    fields = SCHEMA.decode([value] * 100)
    assert fields is not None
    assert TypedClassifier(SLOS.slos).classify(fields) is not None


# -- the compiled decoder ------------------------------------------------------------------

KEYS = ("region", "operation")  # SLOS's labels and match keys: what the columns hold


def columns_of(events: list[dict[str, object]]) -> dict[str, list[object]]:
    """What the columns must hold, read off orjson's dicts."""
    return {"ts": [float(e["ts"]) for e in events],  # type: ignore[arg-type]
            "status": [e.get("status", -1) for e in events],
            "latency_ms": [float(e.get("latency_ms", "nan")) for e in events],  # type: ignore[arg-type]
            "service": [e["service"] for e in events],
            **{key: [e.get(key, "" if key in SCHEMA.labels else msgspec.UNSET) for e in events]
               for key in KEYS}}


def compiled_columns(fields: object) -> dict[str, list[object]]:
    assert isinstance(fields, ColumnBatch)
    return {"ts": fields.floats("ts").tolist(), "status": fields.ints("status").tolist(),  # type: ignore[union-attr]
            "latency_ms": fields.floats("latency_ms").tolist(),
            **{key: fields.values(key) for key in ("service", *KEYS)}}


def same_columns(found: dict[str, list[object]], expected: dict[str, list[object]]) -> None:
    assert found.keys() == expected.keys()
    for key, column in expected.items():
        assert np.array_equal(np.array(found[key], dtype=object), np.array(column, dtype=object)) \
            or (key == "latency_ms" and np.allclose(found[key], column, equal_nan=True, rtol=0,
                                                    atol=0)), key


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=traffic(), arrays=st.booleans(), data=st.data())
def test_the_compiled_decoder_reads_what_orjson_reads_or_declines(
        events: list[object], arrays: bool, data: st.DataObject) -> None:
    """Messages with random bytes inserted, replaced or cut: never a crash; what it takes,
    orjson takes too, with the same fields."""
    compiled_decoder()
    values = ([orjson.dumps(events[i:i + 7]) for i in range(0, len(events), 7)] if arrays
              else list(map(orjson.dumps, events)))[:40]
    for _ in range(data.draw(st.integers(0, 3))):
        n = data.draw(st.integers(0, len(values) - 1))
        value = values[n]
        at = data.draw(st.integers(0, len(value)))
        junk = data.draw(st.binary(max_size=3) | st.sampled_from(
            [b"\\", b'"', b"\\u", b"\\ud83d", b"\xc3", b"\xff", b"{", b"]", b",", b" ", b"e9",
             b"-", b".", b"0", b"\x00", b"\xe2\x82\xac"]))
        cut = data.draw(st.integers(0, 2))
        values[n] = value[:at] + junk + value[at + cut:]
    fields = SCHEMA.decode(values)
    if not isinstance(fields, ColumnBatch):
        return
    decoded = decode_batch(values)
    assert not decoded.refusals
    assert list(fields.ends) == list(decoded.ends)
    same_columns(compiled_columns(fields), columns_of(list(decoded.events)))


def test_the_compiled_decoder_takes_plain_traffic() -> None:
    """Whitespace, key order, escapes and UTF-8 in fields it skips or keeps: columns, not a
    fallback."""
    compiled_decoder()
    values = [PLAIN + b"}", b' {\n"service" : "web", "ts": %d.25 ,"region":"s\xc3\xa3o",'
              b'"ua":"a\\"b\\u00e9\\/", "n": [1, -2.5e-3, true, null, {"k": []}], '
              b'"latency_ms": 1e2}\r\n' % START]
    fields = SCHEMA.decode(values)
    assert isinstance(fields, ColumnBatch)
    same_columns(compiled_columns(fields), columns_of(list(decode_batch(values).events)))
    assert fields.values("region") == ["eu", "s\u00e3o"]
    arrays = SCHEMA.decode([b"[" + PLAIN + b"}," + PLAIN + b"}]", b"[" + PLAIN + b"}]"])
    assert isinstance(arrays, ColumnBatch) and list(arrays.ends) == [2, 3]


@pytest.mark.parametrize("value", [
    PLAIN + b',"x":"\\ud800"}', PLAIN + b',"x":"\xc3\xa3"}', PLAIN + b',"region":"a\\u0041"}',
    PLAIN + b',"region":"\xff"}', PLAIN + b',"ts":1}', PLAIN + b',"x":1e100}',
    PLAIN + b',"x":' + b"[" * 70 + b"]" * 70 + b"}", PLAIN + b',"x":NaN}', PLAIN + b',"x":01}',
    PLAIN + b',"x":1.}', PLAIN + b',"x":"a\tb"}', PLAIN + b',}', PLAIN + b'} x',
    PLAIN + b',"ok":true}', PLAIN + b',"status":null}', PLAIN + b',"ts":12345678901234567}',
    b'{"service":"web"}', b"[" + PLAIN + b"},]", b"[" + PLAIN + b"}",
])
def test_the_compiled_decoder_declines_what_it_does_not_read_exactly(value: bytes) -> None:
    compiled_decoder()
    from streams.offline import _columns
    assert _columns.decode([PLAIN + b"}"], KEYS) is not None
    assert _columns.decode([PLAIN + b"}", value], KEYS) is None


def test_the_compiled_decoder_reads_numbers_to_the_same_double_as_python() -> None:
    """Its exact fast path (15 digits, powers of ten up to 22) and its fallback, bit for bit,
    on numbers of many shapes."""
    compiled_decoder()
    from streams.offline import _columns
    rng = random.Random(1)
    shapes = [lambda: f"{rng.uniform(1.7e9, 1.8e9):.{rng.randint(0, 6)}f}",
              lambda: f"{rng.expovariate(1 / 80):.{rng.randint(0, 17)}f}",
              lambda: repr(rng.uniform(0, 1e4)),
              lambda: f"{rng.randint(0, 10**15)}e{rng.randint(-30, 30)}",
              lambda: f"{rng.random():.{rng.randint(0, 19)}e}",
              lambda: f"0.{'0' * rng.randint(0, 25)}{rng.randint(1, 10**rng.randint(1, 14))}",
              lambda: f"-{rng.randint(0, 999)}.{rng.randint(0, 10**rng.randint(1, 16))}"]
    read, expected = [], []
    for text in (rng.choice(shapes)() for _ in range(20_000)):
        found = _columns.decode([b'{"ts":1,"service":"a","latency_ms":%s}' % text.encode()], ())
        if found is not None:  # declined: over 40 characters
            read.append(found[3])
            expected.append(struct.pack("d", float(text)))
    assert len(read) > 19_000
    assert read == expected
