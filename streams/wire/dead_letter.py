"""The dead-letter record (`sre.dead-letter`): one builder for every producer of dead letters."""

from __future__ import annotations

PAYLOAD_LIMIT = 4096  # bytes of the refused message kept in its dead letter (contract: first 4 KiB)


def dead_letter(reason: str, topic: str, partition: int, offset: int,
                payload: bytes) -> dict[str, object]:
    """The dead letter of a refused message; a file's line has partition -1, offset its number."""
    return {"kind": "dead-letter", "version": 1, "reason": reason, "topic": topic,
            "partition": partition, "offset": offset,
            "payload": payload[:PAYLOAD_LIMIT].decode("utf-8", "replace")}
