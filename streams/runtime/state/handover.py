"""What both services do with their changelogs and outputs around a hand-over.

A checkpoint is written in one order (records, then the meta record alone, then deletions);
partitions moving in or out reach a service through one rebalance listener; after a restore,
the outputs of the last checkpoint that did not reach their topics are found in one way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, TypeVar

import orjson
from aiokafka import AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition

from streams.runtime.settings import Settings
from streams.runtime.state.changelog import read_after
from streams.runtime.state.checkpoint import Checkpoint

M = TypeVar("M")  # a message as an outbox holds it


class Handover(Protocol):
    """A service that takes partitions over and gives them up."""

    async def assigned(self, partitions: Iterable[TopicPartition]) -> None: ...

    async def revoked(self, partitions: Iterable[TopicPartition]) -> None: ...


class RebalanceListener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Partitions moving in or out, passed on to the service that reads them."""

    def __init__(self, service: Handover) -> None:
        self.service = service

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.service.revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self.service.assigned(assigned)


async def send_batches(producer: AIOKafkaProducer, topic: str, partition: int,
                       records: list[tuple[bytes, bytes | None]]) -> asyncio.Future[Any] | None:
    """Records to one partition in batches built here: per-message `send` costs more than the
    engine on busy steps. Returns the first batch's delivery (its offset is the first record's),
    None without records."""
    first = None
    batch = producer.create_batch()
    for key, value in records:
        if batch.append(key=key, value=value, timestamp=None) is None:
            batch.close()
            sent = await producer.send_batch(batch, topic, partition=partition)
            first = first or sent
            batch = producer.create_batch()
            if batch.append(key=key, value=value, timestamp=None) is None:
                raise ValueError(f"a record of {len(value or b'')} bytes does not fit a batch")
    if batch.record_count():
        batch.close()
        sent = await producer.send_batch(batch, topic, partition=partition)
        first = first or sent
    return first


async def write_checkpoint(producer: AIOKafkaProducer, topic: str, partition: int,
                           checkpoint: Checkpoint) -> None:
    """Store a checkpoint: its records, then (after a flush) the meta record that makes them
    count, then the deletions it allows.

    The meta record starts a batch of its own: some brokers (the bundled one) report a
    partition's end offset as one past the first record of its last batch, so a read up to
    that end still sees it. It carries where a restore may start reading, from the offset the
    records were stored at.
    """
    first = await send_batches(producer, topic, partition, list(checkpoint.records))
    await producer.flush()
    key, value = checkpoint.meta_after(None if first is None else (await first).offset)
    sent = await producer.send(topic, value, key=key, partition=partition)
    for deleted in checkpoint.deletions:
        await producer.send(topic, None, key=deleted, partition=partition)
    await producer.flush()
    checkpoint.stored((await sent).offset)


def canonical(message: object) -> bytes:
    """A message's identity among republished ones: its JSON with sorted keys."""
    return orjson.dumps(message, option=orjson.OPT_SORT_KEYS)


async def unpublished(settings: Settings, outbox: list[tuple[str, M]],
                      published: Mapping[str, Mapping[int, int]],
                      identity: Callable[[object], object] = canonical) -> list[tuple[str, M]]:
    """The items of a restored outbox not found on their topics after the offsets published
    before the checkpoint (per topic, per partition)."""
    missing: list[tuple[str, M]] = []
    for topic in sorted({topic for topic, _ in outbox}):
        seen = {identity(m) for m in map(orjson.loads, await read_after(
            settings, topic, dict(published.get(topic, {}))))}
        missing += [(t, m) for t, m in outbox if t == topic and identity(m) not in seen]
    return missing
