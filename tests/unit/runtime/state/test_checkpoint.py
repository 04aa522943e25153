"""The checkpoint format alone: records, outbox, meta and deletions, and any crash point."""

from __future__ import annotations

from typing import NamedTuple

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.runtime.state.changelog import _latest, _one_writer, _read_from
from streams.runtime.state.checkpoint import (
    REFRESH_MIN,
    REFRESH_SPAN,
    Checkpoint,
    CheckpointLog,
    outbox_chunks,
)


def meta(seq: int, chunks: int) -> dict[str, object]:
    return {"version": 1, "seq": seq, "outbox": chunks}


def test_a_checkpoint_writes_entries_then_outbox_then_meta() -> None:
    log = CheckpointLog(b"3|")
    checkpoint = log.write([(b"s|a", b"1")], [b'{"n":1}'], meta)
    assert checkpoint.records == [(b"3|s|a", b'{"seq":1,"state":1,"previous":null}'),
                                  (b"3|o|1|0", b'[{"n":1}]')]
    assert checkpoint.meta == (b"3|m", b'{"version":1,"seq":1,"outbox":1,"prev":null}')
    assert checkpoint.deletions == []


def test_a_restore_reads_only_its_prefix_and_the_meta_records_outbox() -> None:
    log = CheckpointLog(b"3|")
    table = dict(log.write([(b"s|a", b"1")], [b"1", b"2"], meta).messages())
    table[b"4|s|a"] = b'{"seq":9,"state":9,"previous":null}'
    table[b"3|o|0|0"] = b"[7]"  # the other key set: an older checkpoint's
    restored = CheckpointLog(b"3|").restore(table.items())
    assert restored is not None
    assert (restored.entries, restored.outbox) == ({b"s|a": 1}, [1, 2])


def test_no_meta_record_is_no_state() -> None:
    assert CheckpointLog().restore([(b"s|a", b'{"seq":1,"state":1,"previous":null}')]) is None


def test_an_entry_of_a_checkpoint_cut_short_counts_with_its_previous_state() -> None:
    log = CheckpointLog()
    table = dict(log.write([(b"a", b"1")], [], meta).messages())
    torn = log.write([(b"a", b"2"), (b"b", b"5")], [], meta)
    table.update(torn.records)  # its meta record never stored
    again = CheckpointLog()
    restored = again.restore(table.items())
    assert restored is not None and restored.entries == {b"a": 1}
    assert again.torn
    # Written again before the next meta record, whatever changes.
    repair = again.write([], [], meta)
    assert sorted(repair.records) == [(b"a", b'{"seq":2,"state":1,"previous":1}'),
                                      (b"b", b'{"seq":2,"state":null,"previous":null}')]
    assert repair.deletions == [b"b"]
    table.update(repair.messages())
    final = CheckpointLog().restore(table.items())
    assert final is not None and final.entries == {b"a": 1}
    assert table[b"b"] is None


def test_a_removed_entry_is_deleted_after_the_meta_record() -> None:
    log = CheckpointLog()
    log.write([(b"a", b"1")], [], meta)
    checkpoint = log.write([(b"a", b"null")], [], meta)
    assert checkpoint.deletions == [b"a"]
    assert checkpoint.messages()[-1] == (b"a", None)
    assert log.stored(b"a") is None


def test_an_entry_written_again_after_a_restore_is_not_deleted() -> None:
    log = CheckpointLog()
    table = dict(log.write([(b"a", b"1")], [], meta).messages())
    table.update(log.write([(b"b", b"2")], [], meta).records)  # cut short: b is new
    again = CheckpointLog()
    again.restore(table.items())
    checkpoint = again.write([(b"b", b"3")], [], meta)
    assert checkpoint.deletions == []
    table.update(checkpoint.messages())
    restored = CheckpointLog().restore(table.items())
    assert restored is not None and restored.entries == {b"a": 1, b"b": 3}


def test_outbox_chunks_stay_below_their_size_and_keep_every_item() -> None:
    items = [orjson.dumps({"n": n, "pad": "x" * (n % 50)}) for n in range(2000)]
    chunks = outbox_chunks(items, size=4096)
    assert all(len(chunk) <= 4096 + 2 for chunk in chunks)
    assert [item for chunk in chunks for item in orjson.loads(chunk)] == list(
        map(orjson.loads, items))


class Record(NamedTuple):
    offset: int
    key: bytes
    value: bytes | None


class Partition:
    """A changelog partition as a list of records, written as `write_checkpoint` writes them,
    read as `read_checkpoints` reads them."""

    def __init__(self) -> None:
        self.records: list[Record] = []

    def append(self, key: bytes, value: bytes | None) -> int:
        self.records.append(Record(len(self.records), key, value))
        return len(self.records) - 1

    def store(self, checkpoint: Checkpoint, *, cut: int | None = None) -> None:
        """Store a checkpoint; `cut`: only that many of its records (a crash), no meta."""
        start = len(self.records) if checkpoint.records else None
        for key, value in checkpoint.records[:cut]:
            self.append(key, value)
        if cut is not None:
            return
        at = self.append(*checkpoint.meta_after(start))
        for key in checkpoint.deletions:
            self.append(key, None)
        checkpoint.stored(at)

    def read_from_last_meta(self, key: bytes = b"m") -> tuple[int, list[tuple[bytes, bytes | None]]]:
        """What a restore reads (the start, and the latest value of each key)."""
        metas = [r for r in self.records if r.key == key]
        start = _read_from(metas[-1]) if metas else 0
        read = self.records[start:]
        if not _one_writer(read, key):
            start, read = 0, self.records
        return start, _latest(read, key)

    def everything(self, key: bytes = b"m") -> list[tuple[bytes, bytes | None]]:
        return _latest(self.records, key)


def restored_view(records: list[tuple[bytes, bytes | None]]) -> object:
    log = CheckpointLog()
    restored = log.restore(records)
    return None if restored is None else (restored.meta, restored.entries, restored.outbox,
                                          log.torn, log._removed)


@settings(max_examples=300, deadline=None)
@given(steps=st.lists(st.tuples(
    st.dictionaries(st.sampled_from([b"a", b"b", b"c", b"d", b"e"]),
                    st.sampled_from([b"1", b"2", b"3", b"null"]), max_size=5),
    st.lists(st.sampled_from([b"7", b"8"]), max_size=2),
    st.none() | st.integers(0, 6),
    st.booleans()), max_size=12))
def test_a_restore_from_the_last_meta_records_from_equals_one_from_the_start(
    steps: list[tuple[dict[bytes, bytes], list[bytes], int | None, bool]],
) -> None:
    """Any run of checkpoints, some cut short, some followed by a restart: reading from `from`
    restores what reading every record restores (entries, meta, outbox, torn entries and
    deletions still due), and so does every later checkpoint."""
    partition, log = Partition(), CheckpointLog()
    for entries, outbox, cut, restart in steps:
        partition.store(log.write(list(entries.items()), outbox, meta), cut=cut)
        _, read = partition.read_from_last_meta()
        assert restored_view(read) == restored_view(partition.everything())
        if restart or cut is not None:  # the next writer restores from `from`
            log = CheckpointLog()
            log.restore(read)


@settings(max_examples=300, deadline=None)
@given(steps=st.lists(st.tuples(
    st.dictionaries(st.sampled_from([b"a", b"b", b"c", b"d", b"e"]),
                    st.sampled_from([b"1", b"2", b"3", b"null"]), max_size=5),
    st.sampled_from(["owner", "owner", "zombie", "restart"])), max_size=12))
def test_a_writer_that_lost_the_partition_never_hides_the_owners_entries(
    steps: list[tuple[dict[bytes, bytes], str]],
) -> None:
    """Complete checkpoints by the owner and by the writer before it, still running: at most
    one after the partition moved (the engine's offset commit before each store fences it
    after that). A restore reads the whole partition whenever the meta records read are not
    one writer's, so the last meta record's writer's entries are always those a read of
    everything restores."""
    partition, log = Partition(), CheckpointLog()
    zombie: CheckpointLog | None = None
    for entries, who in steps:
        writer = zombie if who == "zombie" and zombie is not None else log
        partition.store(writer.write(list(entries.items()), [], meta))
        if writer is zombie:
            zombie = None  # fenced from here on
        start, read = partition.read_from_last_meta()
        full = restored_view(partition.everything())
        if who == "zombie" and zombie is not None:
            assert start == 0 or restored_view(read) == full  # read whole, or the same
        else:
            assert full is not None
            found = restored_view(read)
            assert found is not None
            last_writers = set(entries)
            assert {k: v for k, v in found[1].items() if k in last_writers} == {
                k: v for k, v in full[1].items() if k in last_writers}
        if who == "restart":
            zombie, log = log, CheckpointLog()
            log.restore(read)


def test_a_zombies_last_checkpoint_makes_the_restore_read_everything() -> None:
    """The case found in review: A writes, B restores and adds k2, A (lost the partition)
    writes again; reading from A's `from` alone would lose k2."""
    partition, a = Partition(), CheckpointLog()
    partition.store(a.write([(b"k0", b"1"), (b"k1", b"1")], [], meta))
    b = CheckpointLog()
    b.restore(partition.read_from_last_meta()[1])
    partition.store(b.write([(b"k2", b"5")], [], meta))
    partition.store(a.write([(b"k0", b"2"), (b"k1", b"2")], [], meta))
    start, read = partition.read_from_last_meta()
    assert start == 0
    found = restored_view(read)
    assert found is not None and found[1] == {b"k0": 2, b"k1": 2, b"k2": 5}


def test_from_follows_the_entries_and_stale_ones_are_written_again() -> None:
    """One entry written at every checkpoint, 99 never again: the read stays within
    REFRESH_SPAN times the entries, the idle entries written again a few at a time."""
    partition, log = Partition(), CheckpointLog()
    partition.store(log.write([(b"e%d" % n, b"1") for n in range(100)], [], meta))
    assert partition.read_from_last_meta()[0] == 0
    for n in range(2000):
        partition.store(log.write([(b"hot", b"%d" % n)], [], meta))
        _, tail = partition.read_from_last_meta()
        assert len(tail) <= (REFRESH_SPAN + 1) * 101 + 2 * REFRESH_MIN
    refreshed = [r.key for r in partition.records[-1000:] if r.key.startswith(b"e")]
    assert len(set(refreshed)) == 100  # every idle entry written again, unchanged
    restored = CheckpointLog().restore(tail)
    assert restored is not None
    assert restored.entries == {**{b"e%d" % n: 1 for n in range(100)}, b"hot": 1999}
    # Without a refresh due, a checkpoint writes only what changed.
    assert len(log.write([(b"hot", b"1")], [], meta).records) == 1
