"""Typed decoding into columns decides exactly as orjson and the dict column path, or declines."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.domain.engine.classify import InvalidEvent
from streams.domain.engine.columns import BatchColumns, ColumnClassifier
from streams.domain.engine.evaluation import Engine, EngineSettings
from streams.domain.engine.typed import TypedClassifier
from streams.offline.columnar import FieldSchema
from streams.offline.decoding import decode_batch
from tests.unit.domain.engine.test_columns import SLOS, START, outcome, traffic

SCHEMA = FieldSchema(SLOS.slos)


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
@given(events=traffic(), arrays=st.booleans())
def test_typed_columns_are_the_dict_columns_or_declined(events: list[object], arrays: bool) -> None:
    values = ([orjson.dumps(events[i:i + 7]) for i in range(0, len(events), 7)] if arrays
              else list(map(orjson.dumps, events)))
    fields = SCHEMA.decode(values)
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
@given(events=traffic(), cuts=st.lists(st.integers(1, 600), max_size=8))
def test_batches_with_typed_fields_have_the_effect_of_events_one_by_one(
        events: list[object], cuts: list[int]) -> None:
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
        fields = SCHEMA.decode(part)
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
