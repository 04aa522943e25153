"""What the engine and incident services share: their state lives in a changelog topic, it
changes one step at a time under a lock (a fetched batch is one), and a stop lets the step in
hand be stored first."""

from __future__ import annotations

import asyncio
from typing import Any

import mode
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from streams.domain.slo.model import SloFile
from streams.runtime.kafka.lifecycle import finishing, stop_clients
from streams.runtime.settings import Settings

Batches = dict[TopicPartition, list[ConsumerRecord]]  # what one fetch returns, by partition


def changelog_topic(settings: Settings, state: str) -> str:
    """The compacted topic a service's state is checkpointed to, one per app."""
    return f"{settings.app_id}-{state}-state-changelog"


class CheckpointedService(mode.Service):
    """A service of the app reading its inputs with its own consumer, its state checkpointed."""

    def __init__(self, settings: Settings, slo_file: SloFile, *, role: str, state: str,
                 max_records: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.slo_file = slo_file
        self.role = role  # how logs name the service
        self.max_records = max_records  # per fetched batch
        self.topics = settings.topics
        self.changelog = changelog_topic(settings, state)
        self.lock = asyncio.Lock()  # one step (a batch, an idle step, a hand-over) at a time
        self.consumer: AIOKafkaConsumer | None = None
        self.producer: AIOKafkaProducer | None = None
        self.stopping = False  # set under the lock: no step starts after it

    async def on_stop(self) -> None:
        async with finishing(self.lock, self.role):  # the step in hand is stored first
            self.stopping = True
        await stop_clients(self.role, self.consumer, self.producer)

    @mode.Service.task
    async def _run(self) -> None:
        consumer = self.consumer
        assert consumer is not None
        while not self.should_stop:
            batches = await consumer.getmany(timeout_ms=200, max_records=self.max_records)
            async with self.lock:
                if self.stopping:
                    return
                await self.apply(batches)
            await self.between_batches()

    async def apply(self, batches: Batches) -> None:
        """Count and store one fetched batch (maybe empty); the lock is held."""
        raise NotImplementedError

    async def between_batches(self) -> None:
        """What follows each batch outside the lock (taking it for each step of its own)."""
