"""What the engine and incident services share: their state lives in a changelog topic, it
changes one step at a time under a lock (a fetched batch is one), and a stop lets the step in
hand be stored first."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import mode
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from streams.domain.slo.model import SloFile
from streams.runtime.kafka.clients import FENCED
from streams.runtime.kafka.lifecycle import finishing, stop_clients
from streams.runtime.settings import Settings
from streams.runtime.state.changelog import read_checkpoints
from streams.runtime.state.checkpoint import Checkpoint
from streams.runtime.state.handover import write_checkpoint

log = logging.getLogger(__name__)

Batches = dict[TopicPartition, list[ConsumerRecord]]  # what one fetch returns, by partition


def changelog_topic(settings: Settings, state: str) -> str:
    """The compacted topic a service's state is checkpointed to, one per app."""
    return f"{settings.app_id}-{state}-state-changelog"


FETCHER_TURNS = 4


async def let_fetcher_run() -> None:
    """Give a consumer's fetcher the event loop turns it needs to send its next fetch request
    (woken by `getmany` taking records, it starts the fetch on its second turn, which writes
    the request on the third), so the broker reads the next records while these are counted
    instead of after. Counting does not yield until its first step is stored: before this, the
    next request left only then. Measured with bench/throughput.py: the worker about 10%
    faster at 100 events a message, paired runs (docs/performance.md)."""
    for _ in range(FETCHER_TURNS):
        await asyncio.sleep(0)


class CheckpointedService(mode.Service):
    """A service of the app reading its inputs with its own consumer, its state checkpointed."""

    def __init__(self, settings: Settings, slo_file: SloFile, *, role: str, state: str,
                 max_records: int, prefix: Callable[[int], bytes], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.slo_file = slo_file
        self.role = role  # how logs name the service
        self.max_records = max_records  # per fetched batch
        self.topics = settings.topics
        self.changelog = changelog_topic(settings, state)
        self.prefix = prefix  # changelog partition -> the key prefix of its checkpoints
        self.lock = asyncio.Lock()  # one step (a batch, an idle step, a hand-over) at a time
        self.consumer: AIOKafkaConsumer | None = None
        self.producer: AIOKafkaProducer | None = None
        self.stopping = False  # set under the lock: no step starts after it
        self.restoring: asyncio.Task[None] | None = None  # a restore after an assignment

    async def store(self, partition: int, checkpoint: Checkpoint) -> None:
        """Store a checkpoint (`write_checkpoint`, through the producer of the outputs: the
        outputs sent before it are flushed with its records, before it counts)."""
        assert self.producer is not None
        await write_checkpoint(self.producer, self.changelog, partition, checkpoint)

    async def fenced_commit(self, offsets: dict[TopicPartition, int], what: str) -> bool:
        """Commit a step's input offsets before its state is stored: the fence against a
        worker whose generation is over without its knowing yet (it must not store or publish
        again). False when the broker refuses them (`what` says what was lost, in the log);
        a failure that says nothing of the generation (a timeout) lets the step be stored."""
        assert self.consumer is not None
        try:
            await self.consumer.commit(offsets)
        except FENCED as exc:
            log.warning("%s: the group refused this worker's offsets (%s): %s; step dropped, "
                        "the new owner applies the same input", self.role, type(exc).__name__,
                        what)
            return False
        except KafkaError as exc:
            log.info("%s: offset commit failed (%s); step stored", self.role,
                     type(exc).__name__)
        return True

    def start_restore(self, restore: Coroutine[Any, Any, None]) -> None:
        """Restore after the rebalance callback returns (aiokafka sends no heartbeat until it
        does: a restore longer than the session timeout got the worker expelled, and again at
        every rejoin); the partitions it restores stay paused until it is done."""
        self.restoring = asyncio.create_task(restore)
        self.restoring.add_done_callback(self._restore_done)

    def _restore_done(self, task: asyncio.Task[None]) -> None:
        """A restore that failed leaves its partitions paused: the worker stops (to be
        restarted) instead of running without them."""
        failure = None if task.cancelled() else task.exception()
        if failure is not None:
            log.error("%s: restoring the state failed", self.role, exc_info=failure)
            self.add_future(self.crash(failure))

    async def read_state(self, partitions: list[int]) -> dict[int, list[tuple[bytes, bytes | None]]]:
        """The changelog records of these partitions; while the broker is out of reach, tried
        again every second (the partitions wait paused)."""
        while True:
            try:
                return await read_checkpoints(self.settings, self.changelog, partitions,
                                              lambda p: self.prefix(p) + b"m")
            except KafkaError as exc:
                log.warning("%s: reading the state of partitions %s failed (%s); retrying",
                            self.role, partitions, exc)
                await asyncio.sleep(1.0)

    async def cancel_restore(self) -> None:
        """Stop a restore still under way (its partitions were revoked, or the worker stops)."""
        task, self.restoring = self.restoring, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def on_stop(self) -> None:
        await self.cancel_restore()
        async with finishing(self.lock, self.role):  # the step in hand is stored first
            self.stopping = True
        await stop_clients(self.role, self.consumer, self.producer)

    @mode.Service.task
    async def _run(self) -> None:
        consumer = self.consumer
        assert consumer is not None
        while not self.should_stop:
            batches = await consumer.getmany(timeout_ms=200, max_records=self.max_records)
            if batches:
                await let_fetcher_run()
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
