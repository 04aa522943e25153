"""One checkpoint format for keyed state in a compacted changelog, shared by both services.

A checkpoint is, in order: the entry records that changed (each `{"seq": N, "state": S,
"previous": P}`, P the entry's state as of the last complete checkpoint), the outbox (the
output it produced, in JSON-array chunks under keys alternating between two sets), the meta
record that makes all of it count (it carries N), then deletions of removed entries.

The records of one checkpoint go to one changelog partition in order, and a crash can store a
prefix of them. On restore, an entry newer than the meta record counts with its previous
state, and an outbox chunk of the other key set is never read, so a partial checkpoint never
overwrites the complete one. Such an entry is written again, with its complete state, by the
next checkpoint before its meta record: that meta record would otherwise make it count.

Pure: no Kafka, no asyncio. Keys are `<prefix>m` (meta), `<prefix>o|<0|1>|<n>` (outbox) and
any other key under the prefix for entries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from streams.domain.stored import StoredState

NULL = b"null"  # an entry's stored state when it has none (removed, or not there yet)
OUTBOX_BYTES = 128 << 10  # per outbox chunk: far below the broker's message limit


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The changelog records of one checkpoint, in the order they must be written."""

    records: list[tuple[bytes, bytes]]  # entries, then outbox chunks
    meta: tuple[bytes, bytes]  # written alone after the records are stored
    deletions: list[bytes]  # keys to delete once the meta record is stored

    def messages(self) -> list[tuple[bytes, bytes | None]]:
        """Every record in write order (deletions as None values)."""
        return [*self.records, self.meta, *((key, None) for key in self.deletions)]


@dataclass(frozen=True, slots=True)
class Restored:
    """A state as of its last complete checkpoint."""

    meta: StoredState
    entries: dict[bytes, Any]  # key (without prefix) -> decoded state, removed ones left out
    outbox: list[Any]  # the items of the meta record's outbox, in order


def outbox_chunks(items: Iterable[bytes], size: int = OUTBOX_BYTES) -> list[bytes]:
    """JSON arrays of the (serialised) items, each about `size` bytes at most, however many
    items a checkpoint produced."""
    chunks: list[bytes] = []
    current: list[bytes] = []
    length = 0
    for item in items:
        if current and length + len(item) > size:
            chunks.append(b"[" + b",".join(current) + b"]")
            current, length = [], 0
        current.append(item)
        length += len(item) + 1
    if current:
        chunks.append(b"[" + b",".join(current) + b"]")
    return chunks


def compact(data: bytes) -> bytes:
    """A copy of orjson output, for one kept long: orjson's own buffer holds about 8 KiB of the
    heap whatever the size of its content (measured with orjson 3.13: 20,000 documents of
    1 KB held 156 MiB, their copies 21 MiB)."""
    return bytes(memoryview(data))


class CheckpointLog:
    """What a state has stored in its changelog, and the next checkpoint to write."""

    def __init__(self, prefix: bytes = b"") -> None:
        self.prefix = prefix
        self.seq = 0  # checkpoints written
        self._stored: dict[bytes, bytes] = {}  # entry key -> its state as last written
        self._torn: set[bytes] = set()  # entries last written by a checkpoint cut short
        self._removed: set[bytes] = set()  # entries stored without a state, still to delete

    @property
    def torn(self) -> bool:
        """Whether a checkpoint cut short left records the next checkpoint must write again."""
        return bool(self._torn)

    def stored(self, key: bytes) -> bytes | None:
        """The state of an entry (key without prefix) as last written, None if it has none."""
        return self._stored.get(self.prefix + key)

    @property
    def stored_states(self) -> Mapping[bytes, bytes]:
        """Every entry's state as last written, by full key."""
        return self._stored

    def write(self, entries: Iterable[tuple[bytes, bytes]], outbox: Iterable[bytes],
              meta: Callable[[int, int], StoredState]) -> Checkpoint:
        """The next checkpoint: `entries` (key without prefix, state; b"null" removes one)
        written whatever they stored before, `outbox` the serialised output items, and
        `meta(seq, outbox chunks)` the meta record's fields."""
        self.seq += 1
        prefix, stored = self.prefix, self._stored
        changed = [(prefix + key, state) for key, state in entries]
        written = {key for key, _ in changed}
        changed += [(key, stored.get(key, NULL)) for key in sorted(self._torn - written)]
        self._torn.clear()
        deletions = self._removed - written
        self._removed = set()
        records = []
        for key, state in changed:
            previous = stored.get(key, NULL)
            records.append((key, b'{"seq":%d,"state":%b,"previous":%b}' % (
                self.seq, state, previous)))
            if state == NULL:
                stored.pop(key, None)
                deletions.add(key)
            else:
                deletions.discard(key)
                stored[key] = compact(state)
        chunks = outbox_chunks(outbox)
        records += [(prefix + b"o|%d|%d" % (self.seq % 2, n), chunk)
                    for n, chunk in enumerate(chunks)]
        meta_record = (prefix + b"m", orjson.dumps(dict(meta(self.seq, len(chunks)))))
        return Checkpoint(records, meta_record, sorted(deletions))

    def restore(self, records: Iterable[tuple[bytes, bytes | None]]) -> Restored | None:
        """The state of the last complete checkpoint, from the latest value of each key (None:
        deleted); None when there is none."""
        prefix = self.prefix
        latest = {key[len(prefix):]: value for key, value in records
                  if value is not None and key.startswith(prefix)}
        self.seq, self._stored, self._torn, self._removed = 0, {}, set(), set()
        meta_value = latest.pop(b"m", None)
        if meta_value is None:
            return None
        meta: StoredState = orjson.loads(meta_value)
        self.seq = int(meta["seq"])
        entries: dict[bytes, Any] = {}
        for key, value in latest.items():
            if key.startswith(b"o|"):
                continue
            record = orjson.loads(value)
            state = record["state"] if record["seq"] <= self.seq else record["previous"]
            if record["seq"] > self.seq:
                self._torn.add(prefix + key)
            if state is None:
                self._removed.add(prefix + key)  # removed (or not there yet) as of the meta
            else:
                entries[key] = state
                self._stored[prefix + key] = compact(orjson.dumps(state))
        count = meta.get("outbox")
        outbox = [item for n in range(count if isinstance(count, int) else 0)
                  for item in orjson.loads(latest.get(b"o|%d|%d" % (self.seq % 2, n), b"[]"))]
        return Restored(meta, entries, outbox)
