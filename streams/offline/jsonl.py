"""Reading JSONL event files, plain or gzip-compressed, in blocks of lines with byte
positions, and decoding a block into events with where each came from."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import orjson

GZIP_MAGIC = b"\x1f\x8b"


class EventFile:
    """A JSONL file of events; `.gz` (or gzip content) is decompressed on the fly."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._raw: BinaryIO = open(self.path, "rb")  # noqa: SIM115 - closed in close()
        self.size = self.path.stat().st_size
        compressed = self._raw.read(2) == GZIP_MAGIC
        self._raw.seek(0)
        self._stream: BinaryIO = (
            gzip.GzipFile(fileobj=self._raw, mode="rb") if compressed  # type: ignore[assignment]
            else self._raw
        )

    @property
    def position(self) -> int:
        """Bytes of the file (compressed, if it is) read so far."""
        return self._raw.tell()

    def blocks(self, size: int = 1 << 22) -> Iterator[tuple[int, list[bytes]]]:
        """(number of the first line, lines) in blocks of about `size` bytes; blank lines kept."""
        number = 1
        rest = b""
        while True:
            data = self._stream.read(size)
            if not data:
                break
            lines = (rest + data).split(b"\n")
            rest = lines.pop()
            if lines:
                yield number, lines
                number += len(lines)
        if rest:
            yield number, [rest]

    def close(self) -> None:
        self._stream.close()
        self._raw.close()

    def __enter__(self) -> EventFile:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


@dataclass(frozen=True, slots=True)
class Block:
    """The events of a block of lines (a line holds an event or an array of events)."""

    events: list[Any]
    lines: list[int]  # per event, the number of its line
    alone: list[bytes | None]  # per event, its line if it held that event alone (else None)
    refused: list[tuple[int, str, bytes]]  # (number, reason, line) of lines that held none

    def origin(self, index: int) -> tuple[int, bytes]:
        """The line number of an event, and the JSON to show for it (its line, if its own)."""
        line = self.alone[index]
        return self.lines[index], line if line is not None else orjson.dumps(self.events[index])


def decode_block(first: int, lines: list[bytes]) -> Block:
    """Decode a block whose first line is number `first`; blank lines hold nothing.

    Refusal reasons start with their kind ("invalid JSON: ...", "empty batch"); everything
    else about an event is for the engine to judge.
    """
    try:
        decoded = list(map(orjson.loads, lines))
    except orjson.JSONDecodeError:
        decoded = None
    if decoded is not None and all(type(item) is dict for item in decoded):
        # The common case, a pass of C: one event a line, every line valid JSON.
        return Block(decoded, list(range(first, first + len(lines))), list(lines), [])
    events: list[Any] = []
    numbers: list[int] = []
    alone: list[bytes | None] = []
    refused: list[tuple[int, str, bytes]] = []
    for number, line in enumerate(lines, start=first):
        if not line.strip():
            continue
        try:
            item = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            refused.append((number, f"invalid JSON: {exc.args[0] if exc.args else exc}", line))
            continue
        if type(item) is list:
            if not item:
                refused.append((number, "empty batch", line))
                continue
            events.extend(item)
            numbers.extend([number] * len(item))
            alone.extend([None] * len(item))
        else:
            events.append(item)
            numbers.append(number)
            alone.append(line)
    return Block(events, numbers, alone, refused)
