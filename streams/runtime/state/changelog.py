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
# from the first answer for each partition, so a short wait ends a read sooner


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
            batches = await consumer.getmany(*reading, timeout_ms=FETCH_WAIT_MS * 5,
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
                           meta_key: Callable[[int], bytes]) -> dict[int, list[tuple[bytes, bytes | None]]]:
    """The latest (key, value) of every key a restore of these partitions of a changelog needs
    (a deleted key's value is None): each partition read from the `from` of its last meta
    record (`meta_key(partition)`; see `streams.runtime.state.checkpoint`), found by reading
    back from the end (TAIL_RECORDS, then eight times as many, until found or the start is
    reached). A restore reads the last checkpoints, not every version of every entry that a
    changelog not compacted (yet) holds."""
    found: dict[int, dict[bytes, bytes | None]] = {}
    rest: dict[int, int] = {}  # partition -> the offset to read from, before its window
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
            start = int(orjson.loads(meta.value).get("from", 0)) if meta and meta.value else 0
            latest = found[partition] = {}
            for record in window[partition]:
                if record.key is not None and record.offset >= start:
                    latest[record.key] = record.value
            if start < began[partition]:
                rest[partition] = start
            looking.remove(partition)
        span *= 8
    if rest:  # the log between `from` and the window, then the window again on top
        earlier: dict[int, dict[bytes, bytes | None]] = {p: {} for p in rest}
        async for partition, records in read_to_end(settings, topic, partitions=sorted(rest),
                                                    after={p: o - 1 for p, o in rest.items()}):
            latest = earlier[partition]
            for record in records:
                if record.key is not None:
                    latest[record.key] = record.value
        for partition, latest in earlier.items():
            found[partition] = latest  # read to the end: the window's records included
    return {p: list(found.get(p, {}).items()) for p in partitions}


async def read_after(settings: Settings, topic: str, offsets: dict[int, int], *,
                     quiet_ms: int = 1000) -> list[bytes]:
    """Every message value of `topic` after `offsets` (partition -> offset; from the start
    for partitions not given), up to the end of the topic at the time of the call."""
    values: list[bytes] = []
    async for _, records in read_to_end(settings, topic, after=offsets, quiet_ms=quiet_ms):
        values += [record.value for record in records if record.value is not None]
    return values
