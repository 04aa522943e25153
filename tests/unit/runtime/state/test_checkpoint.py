"""The checkpoint format alone: records, outbox, meta and deletions, and any crash point."""

from __future__ import annotations

import orjson

from streams.runtime.state.checkpoint import CheckpointLog, outbox_chunks


def meta(seq: int, chunks: int) -> dict[str, object]:
    return {"version": 1, "seq": seq, "outbox": chunks}


def test_a_checkpoint_writes_entries_then_outbox_then_meta() -> None:
    log = CheckpointLog(b"3|")
    checkpoint = log.write([(b"s|a", b"1")], [b'{"n":1}'], meta)
    assert checkpoint.records == [(b"3|s|a", b'{"seq":1,"state":1,"previous":null}'),
                                  (b"3|o|1|0", b'[{"n":1}]')]
    assert checkpoint.meta == (b"3|m", b'{"version":1,"seq":1,"outbox":1}')
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
