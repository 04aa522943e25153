"""A partition's batches decode in one pass when they can, with the effect of message by message."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from itertools import pairwise
from unittest.mock import patch

import msgspec
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.domain.engine.evaluation import EngineSettings
from streams.domain.slo.loader import parse_slo_text
from streams.offline import decoding
from streams.runtime.engine import partition as live
from streams.runtime.engine.partition import Output, PartitionProcessor

SLOS = parse_slo_text("""
apiVersion: sre-streams/v1
alerting:
  quick:
    - {name: fast, severity: page, long: 10m, short: 1m, budget_percent: 20}
slos:
  - {name: web-availability, service: web, objective: 0.9, window: 2h, alerting: quick,
     sli: {availability: {}}, group_by: [region]}
  - {name: web-latency, service: web, objective: 0.9, window: 2h, alerting: quick,
     sli: {latency: {threshold_ms: 100}}}
""")
START = 25920 * 68000.0
NOW = START + 3 * 3600
LIMIT = 600  # bytes: a message of 5 or more events is over it

request = st.fixed_dictionaries({
    "ts": st.integers(0, 3 * 3600 * 10).map(lambda t: START + t / 10),
    "service": st.sampled_from(["web", "other"]),
    "region": st.sampled_from(["eu", "us"]),
    "status": st.sampled_from([200, 200, 500]),
    "latency_ms": st.floats(0, 300),
})
single_message = request.map(orjson.dumps)
array_message = st.lists(request, min_size=1, max_size=6).map(orjson.dumps)
odd_message = st.sampled_from([
    None, b"", b"{not json", b"[]", b'"text"', b"17", b"null", b"[1, 2]",
    orjson.dumps({"ts": "never", "service": "web", "status": 200}),
    b'{"ts": %r, "service": "web", "status": "200"}' % START,  # spaced: dead-lettered as sent
    orjson.dumps([{"ts": START, "service": "web", "status": "200"}]),
    orjson.dumps({"ts": NOW + 3600, "service": "web", "status": 200, "latency_ms": 1}),
])


@dataclass
class Message:
    offset: int
    value: bytes | None


def processor() -> PartitionProcessor:
    return PartitionProcessor(SLOS, EngineSettings(), "requests", 0, LIMIT, 60.0)


def message_by_message() -> AbstractContextManager[object]:
    """Decoding without the one-pass shortcut."""
    return patch.object(decoding, "decode_together", lambda values, max_bytes=None: None)


def letters(out: Output) -> list[bytes]:
    """A step's dead letters (their order within a step is not meaningful)."""
    return sorted(orjson.dumps(msgspec.to_builtins(d), option=orjson.OPT_SORT_KEYS) for d in out.dead_letters)


def state(proc: PartitionProcessor) -> tuple[object, ...]:
    proc.engine.finish()
    return (proc.engine.drain(), proc.stats, proc.offset, proc.engine.checkpoint_meta(),
            [proc.engine.series_state(s) for s in proc.engine.series])


def run(proc: PartitionProcessor, values: list[bytes | None], cuts: list[int],
        as_messages: bool) -> tuple[object, ...]:
    outputs: list[Output] = []
    checkpoints = []
    edges = [0, *sorted({c % (len(values) + 1) for c in cuts}), len(values)]
    for start, end in pairwise(edges):
        batch = list(enumerate(values))[start:end]
        out = (proc.process_messages([Message(o, v) for o, v in batch], NOW) if as_messages
               else proc.process(batch, NOW))
        assert out.consumed == len(batch)
        outputs.append(out)
        checkpoints.append(proc.checkpoint(out.alerts))
    return [(o.alerts, o.budgets, letters(o)) for o in outputs], checkpoints, state(proc)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.sampled_from([single_message, array_message, st.one_of(single_message,
                                                                          array_message)])
       .flatmap(lambda good: st.lists(st.one_of(good, good, good, good, odd_message),
                                      min_size=1, max_size=80)),
       cuts=st.lists(st.integers(0, 80), max_size=5),
       as_messages=st.booleans(),
       chunk=st.sampled_from([live.INGEST_CHUNK, 1, 7]))
def test_a_batch_has_the_effect_of_its_messages_decoded_one_by_one(
    values: list[bytes | None], cuts: list[int], as_messages: bool, chunk: int,
) -> None:
    with message_by_message():
        reference = run(processor(), values, cuts, as_messages=False)
    with patch.object(live, "INGEST_CHUNK", chunk):  # events of a batch engine-fed in runs
        assert run(processor(), values, cuts, as_messages) == reference


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(st.one_of(single_message, array_message, odd_message), min_size=1,
                       max_size=80),
       redelivered=st.integers(0, 10), as_messages=st.booleans(),
       max_output=st.integers(1, 30), chunk=st.sampled_from([1, 3, 20]))
def test_a_step_bounded_by_its_output_leaves_the_rest_for_the_next_step(
    values: list[bytes | None], redelivered: int, as_messages: bool, max_output: int, chunk: int,
) -> None:
    whole = processor()
    whole.process(list(enumerate(values[:redelivered])), NOW)
    expected = whole.process(list(enumerate(values))[redelivered:], NOW)

    stepped = processor()
    stepped.process(list(enumerate(values[:redelivered])), NOW)
    rest = list(enumerate(values))  # the consumer hands over some records counted already
    alerts, budgets, dead = [], [], []
    with patch.object(live, "INGEST_CHUNK", chunk):
        while rest:
            out = (stepped.process_messages([Message(o, v) for o, v in rest], NOW, max_output)
                   if as_messages else stepped.process(rest, NOW, max_output))
            assert 0 < out.consumed <= len(rest)
            alerts += out.alerts
            budgets += out.budgets
            dead += letters(out)
            rest = rest[out.consumed:]
    assert (alerts, budgets, sorted(dead)) == (expected.alerts, expected.budgets,
                                               letters(expected))
    assert state(stepped) == state(whole)


@pytest.mark.parametrize("as_messages", [False, True])
def test_messages_already_counted_are_skipped(as_messages: bool) -> None:
    values = [orjson.dumps({"ts": START + n, "service": "web", "status": 200, "latency_ms": 1,
                            "region": "eu"}) for n in range(10)]
    proc = processor()
    proc.process(list(enumerate(values[:6])), NOW)
    again = list(enumerate(values))[3:]  # redelivered from an older offset
    if as_messages:
        proc.process_messages([Message(o, v) for o, v in again], NOW)
    else:
        proc.process(again, NOW)
    assert proc.stats.events == 10
    assert proc.offset == 9


def test_a_dead_letter_names_the_message_of_the_event() -> None:
    event = {"ts": START, "service": "web", "status": 200, "latency_ms": 1, "region": "eu"}
    values = [orjson.dumps([event, event]), orjson.dumps([event, {**event, "status": "x"}, event])]
    out = processor().process_messages([Message(40 + i, v) for i, v in enumerate(values)], NOW)
    assert [(d.offset, d.reason) for d in out.dead_letters] == [
        (41, "status must be an integer")]
    assert orjson.loads(out.dead_letters[0].payload) == {**event, "status": "x"}
