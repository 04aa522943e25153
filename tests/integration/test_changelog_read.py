"""A restore reads a changelog from its last checkpoint's `from` on the real broker: the same
state as reading every record, a fraction of the records, and the same when the last meta
record lies further back than the first window (a checkpoint cut short after it)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any
from unittest.mock import patch

import pytest
from aiokafka import AIOKafkaProducer

from streams.runtime.kafka.clients import client_options, ensure_topics
from streams.runtime.kafka.local_broker import LocalBroker
from streams.runtime.settings import Settings
from streams.runtime.state import changelog
from streams.runtime.state.changelog import read_checkpoints, read_to_end, written_since
from streams.runtime.state.checkpoint import CheckpointLog
from streams.runtime.state.handover import send_batches, write_checkpoint


def fresh_changelog(broker: LocalBroker) -> tuple[Settings, str]:
    """Settings with a prefix of their own, and the name of a changelog topic under it."""
    settings = Settings.load({"broker": broker.url,
                              "topic_prefix": f"t{uuid.uuid4().hex[:8]}."})
    return settings, settings.topics.requests + "-changelog"


async def started_producer(settings: Settings, topic: str) -> AIOKafkaProducer:
    """A producer, started, once `topic` exists."""
    await ensure_topics(settings, [topic])
    producer = AIOKafkaProducer(**client_options(settings))
    await producer.start()
    return producer


def meta(seq: int, chunks: int) -> dict[str, object]:
    return {"version": 1, "seq": seq, "outbox": chunks}


async def everything(settings: Settings, topic: str) -> dict[int, list[Any]]:
    """Every record of the topic, by partition: what a restore read before `from`."""
    found: dict[int, list[Any]] = {0: [], 1: []}
    async for partition, records in read_to_end(settings, topic, partitions=[0, 1]):
        found[partition] += records
    return found


def state_of(prefix: bytes, records: list[tuple[bytes, bytes | None]]) -> object:
    log = CheckpointLog(prefix)
    restored = log.restore(records)
    return None if restored is None else (restored.meta["seq"], restored.entries,
                                          restored.outbox, log.torn)


@pytest.mark.parametrize("window", [4096, 8])
def test_a_restore_reads_from_the_last_checkpoints_from(broker: LocalBroker, window: int) -> None:
    settings, topic = fresh_changelog(broker)

    async def run() -> None:
        producer = await started_producer(settings, topic)
        try:
            logs = {0: CheckpointLog(b"0|"), 1: CheckpointLog(b"1|")}
            for step in range(30):  # partition 0: 200 entries all changing; 1: one hot entry
                await write_checkpoint(producer, topic, 0, logs[0].write(
                    [(b"s|%d" % n, b"%d" % (step * n)) for n in range(200)], [b"%d" % step],
                    meta))
                await write_checkpoint(producer, topic, 1, logs[1].write(
                    [(b"s|hot", b"%d" % step)] + ([(b"s|%d" % n, b"1") for n in range(50)]
                                                  if step == 0 else []), [], meta))
            # A checkpoint cut short after the last meta record of partition 0, longer than a
            # small window: its records count with their previous states.
            torn = logs[0].write([(b"s|%d" % n, b"-1") for n in range(200)], [], meta)
            await send_batches(producer, topic, 0, torn.records)
            await producer.flush()
        finally:
            await producer.stop()
        counted = {0: 0, 1: 0}

        async def counting(*args: Any, **kwargs: Any) -> AsyncIterator[tuple[int, list[Any]]]:
            async for partition, records in read_to_end(*args, **kwargs):
                counted[partition] += len(records)
                yield partition, records

        with patch.object(changelog, "TAIL_RECORDS", window), \
                patch.object(changelog, "read_to_end", counting):
            read = await read_checkpoints(settings, topic, [0, 1], lambda p: b"%d|m" % p)
        full = await everything(settings, topic)
        for partition in (0, 1):
            prefix = b"%d|" % partition
            every = [(r.key, r.value) for r in full[partition]]
            assert state_of(prefix, read[partition]) == state_of(prefix, every)
        assert state_of(b"0|", read[0]) == (30, {b"s|%d" % n: 29 * n for n in range(200)},
                                            [29], True)
        assert state_of(b"1|", read[1])[1] == {b"s|hot": 29, **{b"s|%d" % n: 1 for n in range(50)}}
        # Partition 0 rewrites every entry each time: a restore needs the last checkpoint
        # (202 records) and the torn one after it (200), found in the first window or, with
        # the small one, in the third (8, 64, 512 records back). Each window runs from before
        # the broker's reported end, which lies at the first record of the last batch (the
        # torn one's 200 records). Partition 1 holds entries written once: all of it is read.
        assert len(full[0]) == 31 * 200 + 30 * 2
        assert len(read[0]) == 202  # the other outbox key set, older, not read
        assert counted[0] <= (window + 200 if window > 402 else 8 + 64 + 512 + 3 * 200)
        assert len(full[1]) == 51 + 1 + 29 * 2 and len(read[1]) == 52

    asyncio.run(run())


def test_a_read_ahead_learns_whether_the_changelog_was_written_since(broker: LocalBroker) -> None:
    settings, topic = fresh_changelog(broker)

    async def run() -> None:
        producer = await started_producer(settings, topic)
        try:
            log = CheckpointLog(b"0|")
            for step in range(3):
                await write_checkpoint(producer, topic, 0, log.write(
                    [(b"s|%d" % n, b"%d" % step) for n in range(5)], [], meta))
            ends: dict[int, int] = {}
            await read_checkpoints(settings, topic, [0, 1], lambda p: b"%d|m" % p, ends=ends)
            assert ends == {0: 3 * 6, 1: 0}  # after the last record read; nothing in 1
            assert await written_since(settings, topic, ends) == set()
            await write_checkpoint(producer, topic, 1, CheckpointLog(b"1|").write(
                [(b"s|x", b"1")], [], meta))
            assert await written_since(settings, topic, ends) == {1}
            await write_checkpoint(producer, topic, 0, log.write([(b"s|0", b"9")], [], meta))
            assert await written_since(settings, topic, ends) == {0, 1}
        finally:
            await producer.stop()

    asyncio.run(run())
