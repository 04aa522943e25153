"""The incident service: alerts, commands, deploys and budgets in; incidents, policy and pages out.

One worker of the app holds every partition of `sre.alerts`, `sre.commands`, `sre.deploys`
and `sre.budgets` (an assignor that gives all partitions to one member of the group
`<app id>-incidents`): incidents are per SLO series, commands name incidents, and a
service's budget policy needs all its SLOs, so they need one place. The volume is small
(alert transitions, and a budget snapshot per series a minute). If that worker dies, another
takes over the whole set. The same worker answers the HTTP API's questions about budgets,
gates, alerts and incidents (`streams.runtime.api`); the others forward them to it: the assignment
tells every member the leader's API address.

State (every incident, the latest budget of every series, the services' policy states and
overrides, the input offsets, the outbox of output events and the pending deliveries) is
checkpointed to `<app id>-incident-state-changelog` (`streams.runtime.incidents.state`, in the
format the engine's state uses), and input is read on from the stored offsets.
Incident events are published after the checkpoint that produced them; deliveries are
attempted after it and marked done in a later checkpoint, so a restart neither loses a
notification nor sends one twice, except when a worker dies between a receiver's answer and
the record of it (then the receiver sees the same `Idempotency-Key`, or PagerDuty the same
`dedup_key`, again).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from typing import Any

import aiohttp
import mode
import msgspec
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from streams.domain.history import HistoryBook
from streams.domain.incidents.book import IncidentBook
from streams.domain.incidents.noise import row_key
from streams.domain.policy import PolicyBook
from streams.domain.slo.model import SloFile
from streams.domain.toil.live import LiveToil
from streams.runtime.incidents.deliveries import DeliveryScheduler
from streams.runtime.incidents.leadership import AllToOneAssignor
from streams.runtime.incidents.processor import IncidentProcessor, InputRecord, Step
from streams.runtime.incidents.resend import AlertmanagerResender
from streams.runtime.incidents.state import IncidentState, OutputMessage, Outputs
from streams.runtime.kafka.clients import client_options, ensure_topics, group_timing
from streams.runtime.settings import Settings
from streams.runtime.state.checkpointed import Batches, CheckpointedService
from streams.runtime.state.handover import RebalanceListener, canonical, unpublished
from streams.runtime.telemetry import CHECKPOINT_SECONDS
from streams.wire.alerts import Alert, AlertStats
from streams.wire.capacity import CapacityEvent
from streams.wire.codec import encode
from streams.wire.incidents import IncidentEvent
from streams.wire.toil import WorkEvent

log = logging.getLogger(__name__)


class IncidentService(CheckpointedService):
    """The incident book of this app, while this worker leads it."""

    def __init__(self, settings: Settings, slo_file: SloFile, **kwargs: Any) -> None:
        super().__init__(settings, slo_file, role="incidents", state="incident",
                         max_records=2000, prefix=lambda partition: b"", **kwargs)
        self.inputs = [self.topics.alerts, self.topics.commands, self.topics.deploys,
                       self.topics.budgets, self.topics.toil, self.topics.capacity]
        self.assignor = AllToOneAssignor(settings.advertised_api)
        self.processor: IncidentProcessor | None = None  # None: not the leader
        self.scheduler = DeliveryScheduler(slo_file.notify, settings.advertised_api, slo_file.toil)
        self.resender = AlertmanagerResender(slo_file.notify, settings.advertised_api)
        self.last_input = time.monotonic()
        self.session: aiohttp.ClientSession | None = None
        self.joined = False  # set by the first assignment (of all inputs or none): a leader is known

    async def on_start(self) -> None:
        settings = self.settings
        await ensure_topics(settings, [*self.inputs, self.topics.incidents, self.topics.policy,
                                       self.topics.alert_stats, self.topics.dead_letter])
        await ensure_topics(settings, [self.changelog], compact=True, partitions=1)
        self.producer = AIOKafkaProducer(**client_options(settings), acks="all", linger_ms=2)
        await self.producer.start()
        self.session = aiohttp.ClientSession()
        self.consumer = AIOKafkaConsumer(
            **client_options(settings), group_id=f"{settings.app_id}-incidents",
            enable_auto_commit=False, auto_offset_reset="earliest",
            partition_assignment_strategy=(self.assignor,),
            **group_timing(settings))
        await self.consumer.start()  # then subscribed: `start` would wait for the join
        self.consumer.subscribe(self.inputs, listener=RebalanceListener(self))

    async def on_stop(self) -> None:
        await super().on_stop()
        if self.session is not None:
            await self.session.close()

    # -- the loop ------------------------------------------------------------------------

    async def apply(self, batches: Batches) -> None:
        processor = self.processor
        if processor is None:
            return
        records: list[InputRecord] = [(tp.topic, tp.partition, m.offset, m.value)
                                      for tp, messages in batches.items()
                                      for m in messages]
        step = processor.apply(records, time.time())
        idle = time.monotonic() - self.last_input >= self.settings.idle_timeout
        if batches:
            self.last_input = time.monotonic()
        elif idle:
            step.outputs += processor.advance(time.time() - self.settings.lateness).outputs
        if step:
            await self._commit(processor, step)

    async def _commit(self, processor: IncidentProcessor, step: Step) -> bool:
        """Store the state, then publish what it produced (its deliveries are queued with it).

        A worker that lost the lead without knowing it yet (expelled from the group after
        missed heartbeats, its revocation still to come) must not store or publish: the new
        leader has restored the state before this step and will apply the same input. The
        group's offset commit is the fence: the broker refuses it from a member of an old
        generation, and then the step is dropped and the worker stops leading (False).
        """
        producer = self.producer
        assert producer is not None
        if not await self._still_leading(processor):
            if self.processor is processor:
                self.processor = None
            return False
        for record in step.dead_letters:
            await producer.send(self.topics.dead_letter, encode(record))
        checkpoint = processor.commit(step)
        with CHECKPOINT_SECONDS.labels("incident").time():
            await self.store(0, checkpoint)
        if step.outputs:
            await self._publish(processor.state, step.outputs)
        processor.state.outbox = []
        return True

    async def _still_leading(self, processor: IncidentProcessor) -> bool:
        """Commit the applied input offsets to the group; False when the broker refuses (this
        member's generation is over) or the inputs are no longer assigned here."""
        consumer = self.consumer
        if consumer is None or self.processor is not processor:
            return False
        assigned = consumer.assignment()
        offsets: dict[TopicPartition, int] = {}
        for name, offset in processor.state.offsets.items():
            topic, _, partition = name.rpartition(":")
            offsets[TopicPartition(topic, int(partition))] = offset + 1
        offsets = {tp: offset for tp, offset in offsets.items() if tp in assigned}
        if not assigned:
            log.warning("incident leader: inputs no longer assigned here; step dropped")
            return False
        if not offsets:
            return True  # nothing applied yet: nothing to fence with
        return await self.fenced_commit(offsets, "it no longer leads")

    @staticmethod
    def _key(event: OutputMessage) -> bytes:
        if isinstance(event, IncidentEvent):
            return event.id.encode()
        if isinstance(event, AlertStats):
            return row_key(event).encode()
        if isinstance(event, Alert):  # (toil-cap: keyed as the engine keys its alerts)
            return orjson.dumps([event.slo, event.series])
        if isinstance(event, WorkEvent):
            return event.team.encode()
        return event.service.encode()

    async def _publish(self, state: IncidentState, items: Outputs) -> None:
        """Incident events keyed by incident, policy events by service, alert statistics by
        rule and series (each in order)."""
        producer = self.producer
        assert producer is not None
        sent = [(topic, await producer.send(topic, encode(event), key=self._key(event)))
                for topic, event in items]
        for topic, future in sent:
            metadata = await future
            offsets = state.published.setdefault(topic, {})
            offsets[metadata.partition] = max(metadata.offset, offsets.get(metadata.partition, -1))

    # -- deliveries ----------------------------------------------------------------------

    @mode.Service.task
    async def _deliver(self) -> None:
        """Pending deliveries, attempted after the checkpoint that queued them; outcomes are
        stored, then logged (a restart from then on neither repeats nor loses them)."""
        while not self.should_stop:
            await asyncio.sleep(0.2)
            processor, session = self.processor, self.session
            if processor is None or session is None or not processor.state.pending:
                continue  # (a former leader's deliveries are its successor's now)
            done = await self.scheduler.attempt(session, processor.state.pending, time.time())
            if not done:
                continue
            async with self.lock:
                if self.processor is not processor or self.stopping:
                    continue  # no longer the leader: the new one retries from its state
                step, lines = processor.record(done)
                await self._commit(processor, step)
            for level, message, args in lines:
                log.log(level, message, *args)

    @mode.Service.task
    async def _resend(self) -> None:
        """Firing alerts posted again to Alertmanagers before their `endsAt` (as Prometheus)."""
        while self.resender.active and not self.should_stop:
            await asyncio.sleep(1.0)
            processor, session = self.processor, self.session
            if processor is not None and session is not None:
                await self.resender.resend(session, processor.state.book, time.time())

    # -- leadership ----------------------------------------------------------------------

    async def assigned(self, partitions: Iterable[TopicPartition]) -> None:
        mine = [tp for tp in partitions if tp.topic in self.inputs]
        await self.cancel_restore()
        if not mine:
            async with self.lock:
                self.processor = None
                self.joined = True
            return
        consumer = self.consumer
        assert consumer is not None
        # Restored after this callback returns: aiokafka sends no heartbeat until it does, and a
        # restore longer than the session timeout (a busy machine) got the worker expelled, and
        # again at every rejoin. The inputs stay paused until the state is back.
        consumer.pause(*mine)
        self.start_restore(self._restore(mine))

    async def _restore(self, mine: list[TopicPartition]) -> None:
        """Take the lead: the state from the changelog, the inputs from its offsets."""
        async with self.lock:
            if self.stopping:
                return
            stored = (await self.read_state([0]))[0]
            state = IncidentState.restored(self.slo_file, stored)
            processor = IncidentProcessor(self.slo_file, self.topics, self.settings.max_future,
                                          state)
            consumer = self.consumer
            assert consumer is not None
            for tp in mine:
                offset = state.offsets.get(f"{tp.topic}:{tp.partition}")
                if offset is not None:
                    consumer.seek(tp, offset + 1)
                else:
                    await consumer.seek_to_beginning(tp)
            if state.outbox:
                missing = await unpublished(self.settings, state.outbox, state.published,
                                            identity=lambda m: canonical(msgspec.to_builtins(m)))
                if missing:
                    await self._publish(state, missing)
                state.outbox = []
            consumer.resume(*mine)
            self.processor = processor
            self.joined = True
            self.last_input = time.monotonic()
            log.info("incident leader: %d incident(s), %d series budget(s), %d pending deliveries",
                     len(state.book.incidents), len(state.policies.budgets), len(state.pending))

    async def revoked(self, partitions: Iterable[TopicPartition]) -> None:
        await self.cancel_restore()
        async with self.lock:
            self.processor = None  # its pending deliveries are stored: the next leader's

    # -- questions from the API (on the leader) ----------------------------------------------

    @property
    def leading(self) -> bool:
        return self.processor is not None

    @property
    def book(self) -> IncidentBook | None:
        return self.processor.state.book if self.processor is not None else None

    @property
    def capacity(self) -> list[CapacityEvent] | None:
        """The latest capacity event of every planned service and resource (from
        `sre.capacity`, which every worker publishes for the services it counts)."""
        return list(self.processor.state.capacity.values()) if self.processor is not None else None

    @property
    def toil(self) -> LiveToil | None:
        return self.processor.state.toil if self.processor is not None else None

    @property
    def policies(self) -> PolicyBook | None:
        return self.processor.state.policies if self.processor is not None else None

    @property
    def history(self) -> HistoryBook | None:
        return self.processor.state.history if self.processor is not None else None

    @property
    def leader_url(self) -> str | None:
        return self.assignor.leader_url

    async def add_override(self, service: str, body: object) -> OutputMessage:
        """Store an override, publish its audit event on `sre.policy`; returns the event."""
        async with self.lock:
            processor = self.processor
            if processor is None:
                raise LookupError("not the leader")
            step = processor.add_override(service, body, time.time(),
                                          max_duration=self.settings.override_max)
            if not await self._commit(processor, step):
                raise LookupError("no longer the leader")
            return step.outputs[0][1]
