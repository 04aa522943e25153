"""Reading JSONL event files, plain or gzip-compressed, in blocks of lines with byte
positions (`streams.offline.decoding` turns a block's lines into events)."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

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
