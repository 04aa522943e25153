"""The dead-letter record (`sre.dead-letter`): one builder for every producer of dead letters."""

from __future__ import annotations

from streams.wire.codec import decode
from streams.wire.envelope import Envelope

PAYLOAD_LIMIT = 4096  # bytes of the refused message kept in its dead letter (contract: first 4 KiB)


class DeadLetter(Envelope, frozen=True, kw_only=True, tag="dead-letter"):
    """A refused input message, with why, where it was, and its first 4 KiB."""

    reason: str
    topic: str
    partition: int  # -1 for a file's line
    offset: int  # a file's line number
    payload: str


def dead_letter(reason: str, topic: str, partition: int, offset: int,
                payload: bytes) -> DeadLetter:
    """The dead letter of a refused message; a file's line has partition -1, offset its number."""
    return DeadLetter(reason=reason, topic=topic, partition=partition, offset=offset,
                      payload=payload[:PAYLOAD_LIMIT].decode("utf-8", "replace"))


def decode_dead_letter(data: bytes | str) -> DeadLetter:
    return decode(data, DeadLetter, "dead letter")
