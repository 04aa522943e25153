"""Reading a topic from given offsets to its end at the time of the call: the one reader behind
checkpoint recovery (the latest record per key) and the replay of outputs already published."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.runtime.kafka.clients import client_options
from streams.runtime.kafka.lifecycle import running
from streams.runtime.settings import Settings

FETCH_WAIT_MS = 50  # how long the broker may hold a fetch with nothing new: the end is known
# from the first answer for each partition, so a short wait ends a read sooner


async def read_to_end(settings: Settings, topic: str, *, partitions: Sequence[int] | None = None,
                      after: dict[int, int] | None = None,
                      quiet_ms: int = 1000) -> AsyncIterator[tuple[int, list[Any]]]:
    """(partition, records) batches of `topic` (of `partitions`, default all), each partition
    from after its offset in `after` or from the start, up to the end at the time of the call.

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
        for tp in tps:
            if tp.partition in after:
                consumer.seek(tp, after[tp.partition] + 1)
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


async def read_partitions(settings: Settings, topic: str, partitions: list[int], *,
                          quiet_ms: int = 500) -> dict[int, list[tuple[bytes, bytes | None]]]:
    """The latest (key, value) of every key of these partitions of `topic` (a changelog: a
    compacted topic, whatever the broker has compacted yet), from the start to its end at the
    time of the call. A deleted key's value is None."""
    if not partitions:
        return {}
    found: dict[int, dict[bytes, bytes | None]] = {p: {} for p in partitions}
    async for partition, records in read_to_end(settings, topic, partitions=partitions,
                                                quiet_ms=quiet_ms):
        latest = found[partition]
        for record in records:
            if record.key is not None:
                latest[record.key] = record.value
    return {p: list(latest.items()) for p, latest in found.items()}


async def read_after(settings: Settings, topic: str, offsets: dict[int, int], *,
                     quiet_ms: int = 1000) -> list[bytes]:
    """Every message value of `topic` after `offsets` (partition -> offset; from the start
    for partitions not given), up to the end of the topic at the time of the call."""
    values: list[bytes] = []
    async for _, records in read_to_end(settings, topic, after=offsets, quiet_ms=quiet_ms):
        values += [record.value for record in records if record.value is not None]
    return values
