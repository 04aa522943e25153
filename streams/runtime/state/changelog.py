"""Reading a topic from given offsets to its end at the time of the call: the one reader behind
checkpoint recovery (the latest record per key from the last checkpoints) and the replay of
outputs already published."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.runtime.kafka.clients import client_options
from streams.runtime.kafka.lifecycle import running
from streams.runtime.settings import Settings

FETCH_WAIT_MS = 50  # how long the broker may hold a fetch with nothing new: the end is known
# from the first answer for each partition, so a short wait ends a read sooner; `getmany` waits
# twice that for records (an answer without any wakes it only then), so a partition with
# nothing to read is done in about 100 ms (`written_since` at a restart's assignment)


async def read_to_end(settings: Settings, topic: str, *, partitions: Sequence[int] | None = None,
                      after: dict[int, int] | None = None, tail: int | None = None,
                      began: dict[int, int] | None = None,
                      quiet_ms: int = 1000) -> AsyncIterator[tuple[int, list[Any]]]:
    """(partition, records) batches of `topic` (of `partitions`, default all), each partition
    from after its offset in `after`, or `tail` records before its end, or from the start, up
    to the end at the time of the call. `began`, if given, receives the offset each partition
    is read from (0: the start).

    The end of a partition is the high watermark its fetch responses carry, not the end offset
    ListOffsets reports: some brokers (the bundled one) report one past the first record of a
    partition's last batch there. A partition whose reported end is 0 is empty (no wait); a
    partition whose fetches never say their watermark ends when it has been quiet for
    `quiet_ms` (the former rule, kept as the last resort).
    """
    after = after or {}
    consumer = AIOKafkaConsumer(*(() if partitions is not None else (topic,)),
                                **client_options(settings), group_id=None,
                                enable_auto_commit=False, auto_offset_reset="earliest",
                                max_partition_fetch_bytes=8 << 20, fetch_max_bytes=64 << 20,
                                fetch_max_wait_ms=FETCH_WAIT_MS)
    async with running(consumer):
        if partitions is None:  # subscribed first: that fetches the topic's partitions
            partitions = sorted(consumer.partitions_for_topic(topic) or ())
            consumer.unsubscribe()
        tps = [TopicPartition(topic, p) for p in partitions]
        if not tps:
            return
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        if tail is not None:
            after = {tp.partition: ends[tp] - tail - 1 for tp in tps if ends[tp] > tail}
        for tp in tps:
            if tp.partition in after:
                consumer.seek(tp, after[tp.partition] + 1)
        if began is not None:
            began.update({tp.partition: after.get(tp.partition, -1) + 1 for tp in tps})
        fresh = [tp for tp in tps if tp.partition not in after]
        if fresh:  # in one call: one at a time, each waited for its own reset (1.5 s a start)
            await consumer.seek_to_beginning(*fresh)
        reading = {tp for tp in tps if ends[tp] > 0}
        quiet_since = time.monotonic()
        while reading:
            batches = await consumer.getmany(*reading, timeout_ms=FETCH_WAIT_MS * 2,
                                             max_records=100_000)
            for tp, records in batches.items():
                yield tp.partition, records
            now = time.monotonic()
            if batches:
                quiet_since = now
            for tp in list(reading):
                highwater = consumer.highwater(tp)
                if highwater is not None:
                    if await consumer.position(tp) >= max(highwater, ends[tp]):
                        reading.discard(tp)
                elif now - quiet_since >= quiet_ms / 1000:
                    reading.discard(tp)


TAIL_RECORDS = 4096  # read back from a changelog partition's end to find its last meta record


async def read_checkpoints(settings: Settings, topic: str, partitions: list[int],
                           meta_key: Callable[[int], bytes], ends: dict[int, int] | None = None,
                           ) -> dict[int, list[tuple[bytes, bytes | None]]]:
    """The latest (key, value) of every key a restore of these partitions of a changelog needs
    (a deleted key's value is None), each partition read from the last meta record's `from`
    (see `streams.runtime.state.checkpoint`), not from its start.

    The last meta record (`meta_key(partition)`) is found by reading back from the end
    (TAIL_RECORDS, then eight times as many, until found or the start is reached). Each meta
    record read must name the one before it as its `prev` (the meta record its writer wrote
    or restored before): otherwise two writers have written the partition (a worker that lost
    it still writing), one `from` does not cover the other's entries, and the partition is
    read from its start. Writes of another writer older than the last writer's `from` are not
    read: the entries of the writer of the last checkpoint are never lost. The meta record
    handed on carries `at`, its own offset. `ends`, if given, receives the offset after the
    last record read of each partition (0: none), for `written_since`.
    """
    reads: dict[int, list[Any]] = {}  # partition -> its records from where its restore reads
    starts: dict[int, int] = {}  # partition -> the offset to read from, before its window
    span, looking = TAIL_RECORDS, list(partitions)
    while looking:
        window: dict[int, list[Any]] = {p: [] for p in looking}
        began: dict[int, int] = {}
        async for partition, records in read_to_end(settings, topic, partitions=looking,
                                                    tail=span, began=began):
            window[partition] += records
        for partition in list(looking):
            key = meta_key(partition)
            meta = next((r for r in reversed(window[partition]) if r.key == key), None)
            if meta is None and began[partition] > 0:
                continue  # further back
            start = _read_from(meta)
            if start < began[partition]:
                starts[partition] = start
            else:
                reads[partition] = [r for r in window[partition] if r.offset >= start]
            looking.remove(partition)
        span *= 8
    for attempt in range(2):  # the log before the windows; then whole partitions, if needed
        if starts:
            earlier: dict[int, list[Any]] = {p: [] for p in starts}
            async for partition, records in read_to_end(
                    settings, topic, partitions=sorted(starts),
                    after={p: o - 1 for p, o in starts.items()}):
                earlier[partition] += records
            reads.update(earlier)
        starts = {p: 0 for p, records in reads.items()
                  if attempt == 0 and not _one_writer(records, meta_key(p))}
    if ends is not None:
        ends.update({p: reads[p][-1].offset + 1 if reads.get(p) else 0 for p in partitions})
    return {p: _latest(reads.get(p, []), meta_key(p)) for p in partitions}


async def written_since(settings: Settings, topic: str, ends: dict[int, int]) -> set[int]:
    """The partitions of `topic` holding records at or after their offset in `ends`."""
    written: set[int] = set()
    async for partition, records in read_to_end(settings, topic, partitions=sorted(ends),
                                                after={p: end - 1 for p, end in ends.items()}):
        if records:
            written.add(partition)
    return written


def _read_from(meta: Any) -> int:
    """Where a restore reads from, by the last meta record: the lesser of its `from` and
    `prev` (the meta record before it, to check), the start without either."""
    fields = orjson.loads(meta.value) if meta is not None and meta.value else {}
    if not isinstance(fields, dict) or fields.get("prev") is None:
        return 0
    return min(int(fields.get("from", 0)), int(fields["prev"]))


def _one_writer(records: list[Any], key: bytes) -> bool:
    """Whether the meta records among `records` are one writer's, each following the one
    before it (the first's `prev` lies before them)."""
    metas = [r for r in records if r.key == key and r.value]
    prevs = [orjson.loads(r.value).get("prev") for r in metas]
    if not metas or (prevs[-1] is None and len(metas) == 1):
        return True  # no checkpoint, or a first one read from the start
    return all(prev == before.offset for prev, before in zip(prevs[1:], metas, strict=False))


def _latest(records: list[Any], key: bytes) -> list[tuple[bytes, bytes | None]]:
    """The latest value of each key, the last meta record with its offset as `at`."""
    latest: dict[bytes, bytes | None] = {}
    meta = None
    for record in records:
        if record.key is not None:
            latest[record.key] = record.value
            if record.key == key:
                meta = record
    if meta is not None and meta.value:
        latest[key] = orjson.dumps({**orjson.loads(meta.value), "at": meta.offset})
    return list(latest.items())


async def read_after(settings: Settings, topic: str, offsets: dict[int, int], *,
                     quiet_ms: int = 1000) -> list[bytes]:
    """Every message value of `topic` after `offsets` (partition -> offset; from the start
    for partitions not given), up to the end of the topic at the time of the call."""
    values: list[bytes] = []
    async for _, records in read_to_end(settings, topic, after=offsets, quiet_ms=quiet_ms):
        values += [record.value for record in records if record.value is not None]
    return values
