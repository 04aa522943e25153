"""Decoding request messages (contracts §2): a Kafka message value or a line of a JSONL file
holds one JSON event or a non-empty array of them.

One decoder for the live worker and the offline tools, so both refuse the same messages for
the same reasons. A refusal has two spellings: its kind for statistics ("invalid JSON") and
the full reason for the dead letter ("invalid JSON: unexpected character ...").
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate, chain
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a message holds no event."""

    statistic: str  # the kind, counted in the engine's dead-letter statistics
    reason: str  # the dead letter's reason


@dataclass(frozen=True, slots=True)
class DecodedBatch:
    """The messages of a batch decoded, nothing counted yet."""

    events: Sequence[Any]  # a list, or decoded on first access (streams.offline.columnar)
    ends: Sequence[int]  # per message, the events up to and including its own
    payloads: Sequence[bytes | None]  # per message, its dead-letter payload (None: the event's JSON)
    refusals: dict[int, Refusal]  # message index -> why it holds no event

    def message_of(self, event: int) -> int:
        """The index of the message an event (by position in `events`) came in."""
        return bisect_right(self.ends, event)

    def payload_of(self, event: int) -> bytes:
        """What a dead letter of an event shows: its message if it came alone, else its JSON."""
        payload = self.payloads[self.message_of(event)]
        if payload is not None:
            return payload
        try:
            return orjson.dumps(self.events[event])
        except (orjson.JSONEncodeError, TypeError):  # nested deeper than orjson writes
            return b"(an event of an array, nested too deep to show)"


def decode_batch(values: Sequence[bytes | None], *, max_bytes: int | None = None,
                 skip_blank: bool = False) -> DecodedBatch:
    """Decode messages in order; a bad one is refused alone.

    `max_bytes` refuses longer messages; `skip_blank` lets whitespace-only messages (blank
    lines of a file) hold nothing without being refused.
    """
    return decode_together(values, max_bytes) or decode_each(values, max_bytes, skip_blank)


def decode_together(values: Sequence[bytes | None],
                    max_bytes: int | None = None) -> DecodedBatch | None:
    """The common case, a pass of C: every message within the size limit, valid JSON, and
    all objects or all non-empty arrays (else None: message by message)."""
    try:
        if max_bytes is not None and max(map(len, values)) > max_bytes:  # type: ignore[arg-type]
            return None
        decoded: list[Any] = list(map(orjson.loads, values))  # type: ignore[arg-type]
    except (TypeError, orjson.JSONDecodeError):  # an empty message, or bad JSON
        return None
    kinds = set(map(type, decoded))
    if kinds == {dict}:
        return DecodedBatch(decoded, range(1, len(decoded) + 1), values, {})
    if kinds == {list} and all(decoded):
        return DecodedBatch(list(chain.from_iterable(decoded)),
                            list(accumulate(map(len, decoded))), [None] * len(decoded), {})
    return None


def decode_each(values: Sequence[bytes | None], max_bytes: int | None = None,
                skip_blank: bool = False) -> DecodedBatch:
    """Message by message (see `decode_batch`)."""
    events: list[Any] = []
    ends: list[int] = []
    payloads: list[bytes | None] = []
    refusals: dict[int, Refusal] = {}
    for i, raw in enumerate(values):
        payloads.append(raw or b"")
        ends.append(len(events))
        if skip_blank and raw is not None and not raw.strip():
            continue
        decoded = decode_message(raw, max_bytes)
        if type(decoded) is Refusal:
            refusals[i] = decoded
            continue
        if type(decoded) is list:
            events.extend(decoded)
            payloads[i] = None
        else:
            events.append(decoded)
        ends[i] = len(events)
    return DecodedBatch(events, ends, payloads, refusals)


def decode_message(raw: bytes | None, max_bytes: int | None = None) -> Any:
    """One message: its event, its non-empty list of events, or the Refusal of it."""
    if raw is None:
        return Refusal("empty message", "empty message")
    if max_bytes is not None and len(raw) > max_bytes:
        reason = f"message over the size limit ({len(raw)} > {max_bytes} bytes)"
        return Refusal(reason, reason)
    try:
        decoded = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return Refusal("invalid JSON", f"invalid JSON: {exc.args[0] if exc.args else exc}")
    if type(decoded) is list and not decoded:
        return Refusal("empty batch", "empty batch")
    return decoded
