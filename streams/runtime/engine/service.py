"""The engine service: consumes `sre.requests` in batches and keeps each partition's state.

Started by the Faust worker with the app (`streams.app`). It reads the input with its own
aiokafka group consumer instead of a Faust agent, for two reasons measured on this project:

- Effectively-once counting needs the input position to come from the state, not from
  Kafka's committed offsets. Here the state of partition N (in the changelog topic,
  partition N) carries the last input offset it counted; on assignment the consumer seeks
  to the offset after it, whatever was committed. Committed offsets only follow the state
  (for lag monitoring) and are written after it.
- Faust's per-message stream path caps a worker at ~11,000 messages/s on this machine;
  `getmany` batches reach the engine's own rate.

The state store is a changelog topic as a Faust table would have (`<app id>-engine-state-
changelog`, compacted, one partition per input partition), written once per changed series
per batch (`PartitionProcessor.checkpoint`, in the format of `streams.runtime.state.checkpoint`)
and read back when a partition is assigned.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Iterable
from typing import Any

import msgspec
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import murmur2

from streams.domain.engine.evaluation import EngineSettings
from streams.domain.slo.model import SloFile
from streams.runtime.engine.partition import Output, PartitionProcessor, partition_prefix
from streams.runtime.engine.read_ahead import ReadAhead
from streams.runtime.kafka.clients import client_options, ensure_topics, group_timing
from streams.runtime.settings import Settings
from streams.runtime.state.checkpoint import compact
from streams.runtime.state.checkpointed import Batches, CheckpointedService
from streams.runtime.state.handover import RebalanceListener, send_batches, unpublished
from streams.runtime.telemetry import CHECKPOINT_SECONDS
from streams.wire.alerts import Alert
from streams.wire.capacity import CapacityEvent
from streams.wire.codec import encode

log = logging.getLogger(__name__)

IDLE_STEP = 360  # evaluation instants per idle step: a long silence is caught up in steps
MAX_OUTPUT = 20_000  # alerts and budget snapshots per step: a catch-up is published in steps


def input_group(settings: Settings) -> str:
    """The consumer group of the input: the app id's group is Faust's own (other protocol)."""
    return f"{settings.app_id}-requests"


class EngineService(CheckpointedService):
    """Batches from the input partitions this worker owns, through their processors."""

    def __init__(self, settings: Settings, slo_file: SloFile, **kwargs: Any) -> None:
        super().__init__(settings, slo_file, role="engine", state="engine",
                         max_records=settings.batch_size, prefix=partition_prefix, **kwargs)
        self.engine_settings = EngineSettings(eval_interval=settings.eval_interval,
                                              lateness=settings.lateness,
                                              budget_interval=settings.budget_interval)
        self.processors: dict[int, PartitionProcessor] = {}
        self.moved_at = time.monotonic()
        self.ready = asyncio.Event()
        self._partition_counts: dict[str, int] = {}
        self._key_partitions: dict[bytes, int] = {}
        # Processors of partitions revoked in a rebalance that has not assigned yet: with
        # Kafka's eager protocol every member revokes before any is assigned, so one assigned
        # back in the same rebalance was not counted by anyone else meanwhile.
        self.parked: dict[int, PartitionProcessor] = {}
        # The latest capacity event of each planned service and resource this worker counts.
        self.capacity: dict[tuple[str, str | None], CapacityEvent] = {}
        self.read_ahead = ReadAhead(
            settings, self.changelog, lambda partition: partition_prefix(partition) + b"m",
            lambda partition: PartitionProcessor(slo_file, self.engine_settings, self.topics.requests,
                                                 partition, settings.max_message_bytes,
                                                 settings.max_future))

    async def on_start(self) -> None:
        settings = self.settings
        # The worker's objects from start-up live as long as it does: out of the collector's
        # sight (full collections walked them all, 0.7 s per 500,000 events). A young
        # collection every 50,000 allocations, not 700: one walked a whole batch of records in
        # flight each time (measured: 4.7 -> 3.9 us of CPU an event).
        gc.freeze()
        gc.set_threshold(50_000, 20, 100)
        await ensure_topics(settings, [self.topics.requests, self.topics.alerts,
                                       self.topics.budgets, self.topics.dead_letter]
                            + ([self.topics.capacity] if self.slo_file.capacity else []))
        await ensure_topics(settings, [self.changelog], compact=True)
        self.producer = AIOKafkaProducer(**client_options(settings), acks="all", linger_ms=2,
                                         max_batch_size=1 << 20,
                                         max_request_size=settings.max_message_bytes + 65536)
        await self.producer.start()
        # A partition's fetch is one step (count, evaluate, store, commit): 16 MB a partition,
        # about 100,000 events of 150 bytes, makes the per-step work (a checkpoint of every
        # series touched, an offset commit, a flushed store) a quarter of what 4 MB did. Measured
        # side by side, 100 events a message: 0.80 of the ceiling against 0.74 (medians of 4);
        # the ceiling itself reads as fast with 4 MB as with 16 MB, and peak RSS at 10,000
        # series did not move (618 against 625 MiB).
        self.consumer = AIOKafkaConsumer(
            **client_options(settings), group_id=input_group(settings),
            enable_auto_commit=False, auto_offset_reset="earliest",
            max_partition_fetch_bytes=16 << 20, fetch_max_bytes=64 << 20,
            **group_timing(settings), rebalance_timeout_ms=10_000,
            max_poll_interval_ms=300_000)
        # Resource events (capacity planning) are keyed by service like the input: partition N
        # of both topics goes to the same worker (range assignment), into processor N.
        inputs = [self.topics.requests]
        if any(plan.resource is not None for plan in self.slo_file.capacity):
            await ensure_topics(settings, [self.topics.resources])
            inputs.append(self.topics.resources)
        # Started before it subscribes: `start` would otherwise wait for the group join
        # (seconds), and the other services (the incident consumer's own join) after it.
        await self.consumer.start()
        self.consumer.subscribe(inputs, listener=RebalanceListener(self))
        self.read_ahead.start()  # while the join waits

    async def apply(self, batches: Batches) -> None:
        consumer = self.consumer
        assert consumer is not None
        now = time.time()
        for tp, messages in batches.items():
            proc = self.processors.get(tp.partition)
            if proc is None or tp not in consumer.assignment():
                continue  # fetched before its partition moved away: not ours to count
            if tp.topic == self.topics.resources:
                await self._resources(proc, tp, messages, now)
                continue
            while messages:  # in steps of bounded output, each stored before the next
                out = proc.process_messages(messages, now, max_output=MAX_OUTPUT)
                await self._step(proc, out)
                messages = messages[out.consumed:]

    async def on_stop(self) -> None:
        await self.read_ahead.cancel()
        await super().on_stop()

    async def _resources(self, proc: PartitionProcessor, tp: TopicPartition,
                         messages: list[Any], now: float) -> None:
        """Resource events into the processor of the same partition number; their offsets are
        committed once the state holding them is stored."""
        out = proc.process_resources(tp.topic, [(m.offset, m.value) for m in messages], now)
        await self._step(proc, out)
        if self.consumer is not None and tp in self.consumer.assignment():
            try:
                await self.consumer.commit({tp: messages[-1].offset + 1})
            except Exception as exc:  # a commit during a hand-over: redelivery changes nothing
                log.info("resources partition %d: offset commit skipped (%s)", tp.partition, exc)

    async def between_batches(self) -> None:
        await self._advance_idle()

    async def _advance_idle(self) -> None:
        """Partitions with no lag and no events for `idle_timeout` follow the clock (§1).

        Only once partitions have settled: right after a hand-over the lag is not known yet.
        """
        consumer = self.consumer
        assert consumer is not None
        for partition in list(self.processors):
            async with self.lock:
                proc = self.processors.get(partition)
                if proc is None or self.stopping:
                    continue
                quiet_since = max(proc.last_event_at, self.moved_at)
                if time.monotonic() - quiet_since < self.settings.idle_timeout:
                    continue
                highwater = consumer.highwater(TopicPartition(self.topics.requests, partition))
                if highwater is None or highwater > proc.offset + 1:
                    continue  # lag unknown, or not caught up: lag is not idleness
                out, _ = proc.idle(time.time(), max_instants=IDLE_STEP)
                await self._step(proc, out)
            await asyncio.sleep(0)

    async def _step(self, proc: PartitionProcessor, out: Output) -> None:
        """Publish one step's output with its state.

        Budgets and dead letters go first (at least once: a repeat is identical), then the
        input offset (the fence, `_still_owned`), the checkpoint (`store`), then the alerts it
        saved in its outbox.
        """
        producer = self.producer
        assert producer is not None and self.consumer is not None
        if out.budgets:
            await self._send_keyed(self.topics.budgets, [
                (orjson.dumps([b.slo, b.series]), compact(encode(b)))
                for b in out.budgets])
        for record in out.dead_letters:
            await producer.send(self.topics.dead_letter, encode(record),
                                key=b"%d" % proc.partition)
        if out.capacity:  # at least once, keyed by service (a repeat is identical)
            await self._send_keyed(self.topics.capacity, [
                (event.service.encode(), encode(event)) for event in out.capacity])
            self.capacity.update({(event.service, event.resource): event
                                  for event in out.capacity})
        checkpoint = proc.checkpoint(out.alerts)
        if checkpoint is None:
            if out.budgets or out.dead_letters:
                await producer.flush()
            return
        if not await self._still_owned(proc):
            return
        with CHECKPOINT_SECONDS.labels("engine").time():
            await self.store(proc.partition, checkpoint)
        if out.alerts:
            await self._publish_alerts(proc, out.alerts)
        proc.outbox = []

    async def _still_owned(self, proc: PartitionProcessor) -> bool:
        """The step's input offset committed before its state is stored (`fenced_commit`); a
        refusal drops the processor too: if the partition comes back, its state is restored.
        A commit ahead of a stored state is harmless: a partition is read on from its state."""
        consumer = self.consumer
        assert consumer is not None
        tp = TopicPartition(self.topics.requests, proc.partition)
        if proc.offset < 0 or tp not in consumer.assignment():
            return True
        if await self.fenced_commit({tp: proc.offset + 1},
                                    f"partition {proc.partition} has moved"):
            return True
        if self.processors.get(proc.partition) is proc:
            del self.processors[proc.partition]
        return False

    async def _send_keyed(self, topic: str, items: list[tuple[bytes, bytes]]) -> None:
        """Messages partitioned by key as Kafka's default partitioner does (murmur2), sent in
        batches built here: per-message `send` costs more than the engine on busy steps."""
        producer = self.producer
        assert producer is not None
        partitions = self._partition_counts.get(topic)
        if partitions is None:
            partitions = self._partition_counts[topic] = len(
                await producer.partitions_for(topic))
        cache = self._key_partitions
        by_partition: dict[int, list[tuple[bytes, bytes]]] = {}
        for key, value in items:
            partition = cache.get(key)
            if partition is None:
                partition = cache[key] = (murmur2(key) & 0x7FFFFFFF) % partitions
                if len(cache) > 1_000_000:
                    cache.clear()
            by_partition.setdefault(partition, []).append((key, value))
        for partition, records in by_partition.items():
            await send_batches(producer, topic, partition, list(records))

    async def _publish_alerts(self, proc: PartitionProcessor,
                              alerts: list[Alert]) -> None:
        producer = self.producer
        assert producer is not None
        # Keyed by series, as budgets are: every alert of a series (all its rules) stays in
        # order on one partition, which the incident service relies on.
        sent = [await producer.send(self.topics.alerts, encode(alert),
                                    key=orjson.dumps([alert.slo, alert.series]))
                for alert in alerts]
        for future in sent:
            metadata = await future
            proc.alert_offsets[metadata.partition] = max(
                metadata.offset, proc.alert_offsets.get(metadata.partition, -1))

    def lag(self) -> dict[int, int]:
        """Input messages not yet counted, per partition this worker owns (where known)."""
        consumer = self.consumer
        if consumer is None:
            return {}
        lag = {}
        for partition, proc in list(self.processors.items()):
            highwater = consumer.highwater(TopicPartition(self.topics.requests, partition))
            if highwater is not None:
                lag[partition] = max(0, highwater - proc.offset - 1)
        return lag

    # -- hand-over -------------------------------------------------------------------------

    async def assigned(self, partitions: Iterable[TopicPartition]) -> None:
        """Take the partitions back that this worker held before the rebalance at once; restore
        the others from the changelog after this callback returns (`start_restore`: 10,000
        series take seconds), their input paused until then."""
        consumer = self.consumer
        assert consumer is not None
        await self.cancel_restore()
        async with self.lock:
            self.moved_at = time.monotonic()
            mine = sorted(tp.partition for tp in partitions if tp.topic == self.topics.requests)
            self.read_ahead.remember(mine)
            parked, self.parked = self.parked, {}
            for partition in mine:
                if partition in parked:
                    self.processors[partition] = parked[partition]
            new = [p for p in mine if p not in self.processors]
            for partition in mine:
                # Read on from the state, whatever offset was committed (a commit can run
                # ahead of a state that a crash cut short, or lag behind it).
                proc = self.processors.get(partition)
                if proc is not None and proc.offset >= 0:
                    consumer.seek(TopicPartition(self.topics.requests, partition), proc.offset + 1)
            if not new:
                await self.read_ahead.cancel()  # nothing to restore: what was read goes
                log.info("input partitions assigned: %s", mine)
                self.ready.set()
                return
            waiting = [tp for tp in partitions if tp.partition in new]
            consumer.pause(*waiting)
            self.start_restore(self._restore(new, waiting, mine))

    async def _restore(self, new: list[int], waiting: list[TopicPartition],
                       mine: list[int]) -> None:
        """Restore the new partitions from the changelog and start reading after their state."""
        consumer = self.consumer
        assert consumer is not None
        restored = await self.read_ahead.restored(new, self.read_state)
        async with self.lock:
            if self.stopping:
                return
            for proc in restored:
                if proc.outbox:
                    await self._republish(proc)
                self.processors[proc.partition] = proc
                if proc.offset >= 0:
                    consumer.seek(TopicPartition(self.topics.requests, proc.partition),
                                  proc.offset + 1)
            consumer.resume(*waiting)
            self.moved_at = time.monotonic()
            log.info("input partitions assigned: %s", mine)
            self.ready.set()

    async def revoked(self, partitions: Iterable[TopicPartition]) -> None:
        """A partition moving away leaves its state to the changelog (stored after each batch)."""
        await self.cancel_restore()
        async with self.lock:
            self.moved_at = time.monotonic()
            for tp in partitions:
                if tp.topic == self.topics.requests and tp.partition in self.processors:
                    self.parked[tp.partition] = self.processors.pop(tp.partition)

    async def _republish(self, proc: PartitionProcessor) -> None:
        """Publish the alerts of the last checkpoint that did not reach the topic."""
        topic = self.topics.alerts
        missing = await unpublished(self.settings, [(topic, a) for a in proc.outbox],
                                    {topic: proc.alert_offsets}, _alert_identity)
        if missing:
            log.info("partition %d: publishing %d alert(s) saved before a stop",
                     proc.partition, len(missing))
            await self._publish_alerts(proc, [alert for _, alert in missing])
        proc.outbox = []


def _alert_identity(alert: object) -> object:
    """An alert's identity, held in the outbox (typed) or read back from its topic (parsed)."""
    value = msgspec.to_builtins(alert)
    return (value["id"], value["status"], value["at"])
