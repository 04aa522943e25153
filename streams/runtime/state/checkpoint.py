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

Where a restore starts reading: the meta record carries `from`, an offset at or before the
latest record of every entry stored, of the outbox and of the meta record itself, and
`prev`, the offset of the meta record its writer wrote (or restored) before. A restore finds
the last meta record near the end of the partition and reads from its `from` (or `prev`, if
earlier; every meta record read must name the one before it as `prev`, or two writers wrote
and the whole partition is read: `changelog.read_checkpoints`), so it
reads what one or a few checkpoints wrote, not every version of every entry (a changelog the
broker does not compact holds them all). `from` follows the entries as they are written again;
an entry left unwritten for long holds it back, so a checkpoint also writes again, unchanged,
the entries written longest ago once the log behind the oldest grows past `REFRESH_SPAN` times
the entries stored (a few each checkpoint). A meta record without `from` or `prev` (written
before they existed, or a writer's first) means the start of the partition.

Pure: no Kafka, no asyncio. Keys are `<prefix>m` (meta), `<prefix>o|<0|1>|<n>` (outbox) and
any other key under the prefix for entries.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from streams.domain.stored import StoredState

NULL = b"null"  # an entry's stored state when it has none (removed, or not there yet)
OUTBOX_BYTES = 128 << 10  # per outbox chunk: far below the broker's message limit
REFRESH_SPAN = 4  # the log a restore reads is kept below about this many times the entries
REFRESH_MIN = 16  # entries written again at least, per checkpoint that refreshes


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The changelog records of one checkpoint, in the order they must be written."""

    records: list[tuple[bytes, bytes]]  # entries, then outbox chunks
    meta_key: bytes
    meta_fields: StoredState
    deletions: list[bytes]  # keys to delete once the meta record is stored
    placed: Callable[[int | None], int] = field(default=lambda start: 0, repr=False,
                                                compare=False)
    stored: Callable[[int], None] = field(default=lambda offset: None, repr=False,
                                          compare=False)  # the meta record's offset, once stored

    @property
    def meta(self) -> tuple[bytes, bytes]:
        """The meta record, for where the records were stored is not known (restores read the
        partition from its start)."""
        return self.meta_key, orjson.dumps(self.meta_fields)

    def meta_after(self, start: int | None) -> tuple[bytes, bytes]:
        """The meta record, once the records are stored from offset `start` of the partition
        (None: there were none): with `from`, where a restore may start reading."""
        return self.meta_key, orjson.dumps({**self.meta_fields, "from": self.placed(start)})

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
        # Entries stored, oldest write first, each with the checkpoint that wrote it last; where
        # each checkpoint's records start in the partition; the partition's end as last written.
        self._written: OrderedDict[bytes, int] = OrderedDict()
        self._starts: dict[int, int] = {0: 0}  # checkpoint 0: what a restore read
        self._end = 0
        self._meta_at: int | None = None  # offset of the last meta record written or restored

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
        changed += [(key, stored[key]) for key in self._stale({key for key, _ in changed},
                                                               len(changed))]
        # Removals whose deletion a stop cut short: their null state written again, so the
        # next `from` cannot pass it before the deletion is stored.
        changed += [(key, NULL) for key in sorted(self._removed - {key for key, _ in changed})]
        deletions = self._removed - written
        self._removed = set()
        records = []
        seq, order = self.seq, self._written
        for key, state in changed:
            previous = stored.get(key, NULL)
            records.append((key, b'{"seq":%d,"state":%b,"previous":%b}' % (
                seq, state, previous)))
            if state == NULL:
                stored.pop(key, None)
                order.pop(key, None)
                deletions.add(key)
            else:
                deletions.discard(key)
                stored[key] = compact(state)
                order[key] = seq
                order.move_to_end(key)
        chunks = outbox_chunks(outbox)
        records += [(prefix + b"o|%d|%d" % (seq % 2, n), chunk)
                    for n, chunk in enumerate(chunks)]
        size = len(records) + 1 + len(deletions)

        def meta_stored(offset: int) -> None:
            self._meta_at = offset

        def placed(start: int | None) -> int:
            """Note where this checkpoint's records start; the offset a restore reads from."""
            if start is None:  # no records: the meta record comes after the last one written
                start = self._end
            self._starts[seq] = start
            self._end = max(self._end, start + size)
            return self.low_water(start)

        return Checkpoint(records, prefix + b"m",
                          {**meta(seq, len(chunks)), "prev": self._meta_at},
                          sorted(deletions), placed, meta_stored)

    def low_water(self, start: int) -> int:
        """The least offset holding the latest record of an entry stored (`start`: where the
        checkpoint being written starts); checkpoints older than that are forgotten."""
        if not self._written:
            return start
        oldest = next(iter(self._written.values()))
        for old in [s for s in self._starts if s < oldest]:
            del self._starts[old]
        return min(start, self._starts.get(oldest, 0))

    def _stale(self, written: set[bytes], changed: int) -> list[bytes]:
        """Entries to write again unchanged: the oldest, once the log behind the oldest is over
        REFRESH_SPAN times the entries stored."""
        order = self._written
        if not order:
            return []
        behind = self._end - self._starts.get(next(iter(order.values())), 0)
        if behind <= REFRESH_SPAN * len(order) + REFRESH_MIN:
            return []
        stale: list[bytes] = []
        for key in order:
            if len(stale) >= max(REFRESH_MIN, changed // 4):
                break
            if key not in written:
                stale.append(key)
        return stale

    def restore(self, records: Iterable[tuple[bytes, bytes | None]]) -> Restored | None:
        """The state of the last complete checkpoint, from the latest value of each key (None:
        deleted); None when there is none."""
        prefix = self.prefix
        latest = {key[len(prefix):]: value for key, value in records
                  if value is not None and key.startswith(prefix)}
        self.seq, self._stored, self._torn, self._removed = 0, {}, set(), set()
        self._written, self._end, self._meta_at = OrderedDict(), 0, None
        meta_value = latest.pop(b"m", None)
        if meta_value is None:  # entries of a first checkpoint cut short: none counts
            self._torn = {prefix + key for key in latest if not key.startswith(b"o|")}
            return None
        meta: StoredState = orjson.loads(meta_value)
        self.seq = int(meta["seq"])
        self._starts = {0: int(meta.get("from", 0))}  # every entry read: at or after it
        self._meta_at = meta.pop("at", None)  # where the reader found it
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
                self._written[prefix + key] = 0
        count = meta.get("outbox")
        outbox = [item for n in range(count if isinstance(count, int) else 0)
                  for item in orjson.loads(latest.get(b"o|%d|%d" % (self.seq % 2, n), b"[]"))]
        return Restored(meta, entries, outbox)
