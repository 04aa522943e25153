"""Request messages decode alike from Kafka and from a file, in one pass or one by one."""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from streams.offline.decoding import Refusal, decode_batch, decode_each, decode_together

event = st.fixed_dictionaries({"ts": st.integers(0, 100), "service": st.sampled_from("ab")})
message = st.one_of(
    event.map(orjson.dumps),
    st.lists(event, min_size=1, max_size=4).map(orjson.dumps),
    st.sampled_from([None, b"", b"  ", b"{bad", b"[]", b"17", b'"text"']),
)


@given(values=st.lists(message, min_size=1, max_size=20),
       max_bytes=st.sampled_from([None, 40, 1000]))
def test_one_pass_decodes_as_message_by_message(values: list[bytes | None],
                                                max_bytes: int | None) -> None:
    together = decode_together(values, max_bytes)
    if together is not None:
        each = decode_each(values, max_bytes)
        assert (together.events, list(together.ends), list(together.payloads),
                together.refusals) == (each.events, each.ends, each.payloads, each.refusals)


def test_refusals_keep_their_statistic_and_dead_letter_reasons() -> None:
    batch = decode_batch([None, b"x" * 50, b"{bad", b"[]", b""], max_bytes=40)
    assert batch.events == []
    assert batch.refusals[0] == Refusal("empty message", "empty message")
    assert batch.refusals[1] == Refusal("message over the size limit (50 > 40 bytes)",
                                        "message over the size limit (50 > 40 bytes)")
    assert batch.refusals[2].statistic == "invalid JSON"
    assert batch.refusals[2].reason.startswith("invalid JSON: ")
    assert batch.refusals[3] == Refusal("empty batch", "empty batch")
    assert batch.refusals[4].statistic == "invalid JSON", "an empty Kafka message is not JSON"


def test_blank_lines_of_a_file_hold_nothing_and_are_not_refused() -> None:
    batch = decode_batch([b'{"a": 1}', b"", b"   ", b'[{"b": 2}, {"c": 3}]'], skip_blank=True)
    assert batch.events == [{"a": 1}, {"b": 2}, {"c": 3}]
    assert batch.refusals == {}
    assert [batch.message_of(i) for i in range(3)] == [0, 3, 3]


def test_an_event_shows_its_message_if_alone_else_its_own_json() -> None:
    batch = decode_batch([b'{"a":  1}', b'[{"b": 2}, {"c": 3}]'])
    assert batch.payload_of(0) == b'{"a":  1}'
    assert batch.payload_of(2) == b'{"c":3}'
