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
checkpointed to `<app id>-incident-state-changelog` as the engine's is
(changed records, then a meta record), and input is read on from the stored offsets.
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
from collections.abc import Iterable, Mapping
from typing import Any

import aiohttp
import mode
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.coordinator.assignors.abstract import AbstractPartitionAssignor
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment, ConsumerProtocolMemberMetadata

from streams.domain.incidents.book import (
    IncidentBook,
    book_meta,
    incident_record,
    restore_book,
)
from streams.domain.incidents.book import series_key as incident_series
from streams.domain.incidents.noise import NoiseBook, row_key
from streams.domain.incidents.postmortem import postmortem_markdown
from streams.domain.notify.receivers import delivery_key, payload
from streams.domain.policy import PolicyBook
from streams.domain.policy import series_key as budget_key
from streams.domain.slo.model import SloFile
from streams.domain.timestamps import parse_ts
from streams.integrations.delivery import Attempt, RateLimiter, send
from streams.runtime.kafka_io import (
    client_options,
    ensure_topics,
    finishing,
    read_after,
    read_partitions,
    stop_clients,
)
from streams.runtime.partition import compact, dead_letter
from streams.runtime.settings import Settings, secret
from streams.wire.alerts import Alert
from streams.wire.budgets import BudgetSnapshot
from streams.wire.codec import convert, encode
from streams.wire.codec import record as record_of
from streams.wire.commands import Command, Deploy
from streams.wire.incidents import IncidentEvent

log = logging.getLogger(__name__)


def state_topic(settings: Settings) -> str:
    return f"{settings.app_id}-incident-state-changelog"


class AllToOneAssignor(AbstractPartitionAssignor):  # type: ignore[misc]
    """Every partition to one member (the first by id): a leader for low-volume state.

    Members announce their API address in their metadata; every member's assignment carries
    the leader's, so any worker knows where to forward a question. Subclassed per service
    (`for_url`): aiokafka calls assignors through the class.
    """

    name = "sre-all-to-one"
    version = 0
    url = ""
    leader_url: str | None = None

    @classmethod
    def for_url(cls, url: str) -> type[AllToOneAssignor]:
        return type("AllToOneAssignor", (cls,), {"url": url, "leader_url": None})

    @classmethod
    def assign(cls, cluster: Any, members: Mapping[str, Any]) -> dict[str, Any]:
        topics = sorted({t for metadata in members.values() for t in metadata.subscription})
        leader = min(members)
        url = members[leader].user_data or b""
        assignment = {}
        for member in members:
            owned = ([(t, sorted(cluster.partitions_for_topic(t) or ())) for t in topics]
                     if member == leader else [])
            assignment[member] = ConsumerProtocolMemberAssignment(cls.version, owned, url)
        return assignment

    @classmethod
    def metadata(cls, topics: Iterable[str]) -> Any:
        return ConsumerProtocolMemberMetadata(cls.version, list(topics), cls.url.encode())

    @classmethod
    def on_assignment(cls, assignment: Any) -> None:
        cls.leader_url = (assignment.user_data or b"").decode() or None


class IncidentService(mode.Service):
    """The incident book of this app, while this worker leads it."""

    def __init__(self, settings: Settings, slo_file: SloFile, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.slo_file = slo_file
        self.notify = slo_file.notify
        self.policy = slo_file.incidents
        self.escalation = [level.notify for level in self.policy.escalation]
        self.topics = settings.topics
        self.inputs = [self.topics.alerts, self.topics.commands, self.topics.deploys,
                       self.topics.budgets]
        self.changelog = state_topic(settings)
        self.assignor = AllToOneAssignor.for_url(settings.advertised_api)
        self.lock = asyncio.Lock()
        self.book: IncidentBook | None = None  # None: not the leader
        self.policies: PolicyBook | None = None  # ... likewise
        self.noise = NoiseBook()
        self.offsets: dict[str, int] = {}  # "topic:partition" -> last offset applied
        self.pending: dict[str, dict[str, Any]] = {}  # delivery key -> delivery
        self.delivery_seq = 0  # deliveries numbered in the order their events happened
        self.outbox: list[tuple[str, dict[str, object]]] = []  # (topic, event) not yet published
        self.published: dict[str, dict[int, int]] = {}  # topic -> partition -> last offset
        self.seq = 0
        self._saved: dict[bytes, bytes] = {}  # record key -> state last stored
        self._entries: set[bytes] = set()  # keys of the stored section entries
        self._graves: set[bytes] = set()  # keys of removed entries, to delete for good
        self._torn: set[bytes] = set()  # keys last written by a checkpoint cut short
        self._changed: set[str] = set()  # incident ids
        self._changed_budgets: set[str] = set()  # series keys
        self.last_input = time.monotonic()
        self.limiter = RateLimiter()
        self.consumer: AIOKafkaConsumer | None = None
        self.producer: AIOKafkaProducer | None = None
        self.session: aiohttp.ClientSession | None = None
        self.stopping = False

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
            session_timeout_ms=6_000, heartbeat_interval_ms=1_000)
        self.consumer.subscribe(self.inputs, listener=_Listener(self))
        await self.consumer.start()

    async def on_stop(self) -> None:
        async with finishing(self.lock, "incidents"):
            self.stopping = True
        await stop_clients("incidents", self.consumer, self.producer)
        if self.session is not None:
            await self.session.close()

    # -- the loop ------------------------------------------------------------------------

    @mode.Service.task
    async def _run(self) -> None:
        consumer = self.consumer
        assert consumer is not None
        while not self.should_stop:
            batches = await consumer.getmany(timeout_ms=200, max_records=2000)
            async with self.lock:
                if self.stopping:
                    return
                if self.book is not None:
                    before = dict(self.offsets)
                    out, dead = self._apply(batches)
                    idle = time.monotonic() - self.last_input >= self.settings.idle_timeout
                    if batches:
                        self.last_input = time.monotonic()
                    elif idle:
                        out += [(self.topics.incidents, record_of(event)) for event in
                                self.book.advance(time.time() - self.settings.lateness)]
                    if out or dead or self.offsets != before:
                        await self._commit(out, dead)

    def _apply(self, batches: Mapping[TopicPartition, list[Any]]) -> tuple[
            list[tuple[str, dict[str, object]]], list[dict[str, object]]]:
        """Decode and apply a batch in event-time order; returns (topic, event) outputs and
        dead letters."""
        book, policies = self.book, self.policies
        assert book is not None and policies is not None
        timed = {self.topics.alerts, self.topics.budgets}  # `at`; commands and deploys: `ts`
        items: list[tuple[float, int, str, dict[str, Any], TopicPartition, Any]] = []
        dead: list[dict[str, object]] = []
        latest = time.time() + self.settings.max_future  # one clock ahead must not move ours
        for tp, messages in batches.items():
            name = f"{tp.topic}:{tp.partition}"
            for message in messages:
                if message.offset <= self.offsets.get(name, -1):
                    continue
                self.offsets[name] = message.offset
                try:
                    value = orjson.loads(message.value)
                    if not isinstance(value, dict):
                        raise ValueError("expected a JSON object")
                    at = parse_ts(value["at"] if tp.topic in timed else value["ts"])
                    if not 0 <= at <= latest:
                        raise ValueError("timestamp in the future" if at > 0 else
                                         "timestamp before 1970")
                except (orjson.JSONDecodeError, ValueError, KeyError, TypeError) as exc:
                    dead.append(dead_letter(f"invalid {self._kind(tp.topic)}: {exc}", tp.topic,
                                            tp.partition, message.offset, message.value or b""))
                    continue
                order = {self.topics.deploys: 0, self.topics.budgets: 1,
                         self.topics.alerts: 2}.get(tp.topic, 3)
                items.append((at, order, tp.topic, value, tp, message))
        items.sort(key=lambda item: (item[0], item[1]))
        out: list[tuple[str, dict[str, object]]] = []
        incidents, policy = self.topics.incidents, self.topics.policy
        for at, _, topic, value, tp, message in items:
            # Time moves first: escalations due by now happen whether or not the item is valid.
            # (Budgets are not incident inputs: they do not move the incidents' clock.)
            if topic != self.topics.budgets:
                out += [(incidents, record_of(e)) for e in book.advance(at)]
            try:
                if topic == self.topics.budgets:
                    snapshot = convert(value, BudgetSnapshot, "budget")
                    out += [(policy, record_of(e)) for e in policies.on_budget(snapshot)]
                    self._changed_budgets.add(budget_key(value["slo"], value.get("series") or {}))
                    continue
                if topic == self.topics.alerts:
                    alert = convert(value, Alert, "alert")
                    events = [record_of(e) for e in book.on_alert(alert)]
                    out.append((self.topics.alert_stats, record_of(self.noise.on_alert(alert))))
                    # Saved even when the alert made no news (inhibited, a late resolution).
                    latest_id = book.by_series.get(incident_series(value["slo"], value["series"]))
                    if latest_id is not None:
                        self._changed.add(latest_id)
                elif topic == self.topics.commands:
                    events = [record_of(e) for e in book.on_command(convert(value, Command, "command"))]
                else:
                    deploy = convert(value, Deploy, "deploy")
                    events = [record_of(e) for e in book.on_deploy(deploy)]
                    out += [(policy, record_of(e)) for e in policies.on_deploy(deploy)]
                    self._changed.update(i.id for i in book.incidents.values()
                                         if i.service == value.get("service"))
            except Exception as exc:  # refused, or malformed in a way not foreseen: never fatal
                dead.append(dead_letter(f"{self._kind(topic)} refused: {exc}", topic, tp.partition,
                                        message.offset, message.value or b""))
                continue
            for event in events:
                if event["event"] == "acknowledged":
                    self.noise.on_acknowledged(
                        str(a["id"]) for a in event["alerts"]  # type: ignore[attr-defined]
                        if a["status"] == "firing")
                if event["event"] == "resolved":
                    incident = book.incidents[str(event["id"])]
                    event["postmortem"] = postmortem_markdown(
                        incident, book.deploys.get(incident.service))
            out += [(incidents, e) for e in events]
        return out, dead

    def _kind(self, topic: str) -> str:
        return {self.topics.alerts: "alert", self.topics.commands: "command",
                self.topics.budgets: "budget"}.get(topic, "deploy")

    async def _commit(self, out: list[tuple[str, dict[str, object]]],
                      dead: list[dict[str, object]]) -> None:
        """Store the state, then publish what it produced and queue its deliveries."""
        producer = self.producer
        assert producer is not None and self.book is not None
        for record in dead:
            await producer.send(self.topics.dead_letter, orjson.dumps(record))
        incident_events = [event for topic, event in out if topic == self.topics.incidents]
        self._changed.update(str(event["id"]) for event in incident_events)
        for event in incident_events:
            typed = convert(event, IncidentEvent, "incident")
            for receiver in self.notify.receivers_for(typed, self.escalation):
                self.delivery_seq += 1
                key = delivery_key(typed, receiver.name, self.delivery_seq)
                self.pending[key] = {"key": key, "receiver": receiver.name, "event": event,
                                     "attempt": 0, "not_before": 0.0, "seq": self.delivery_seq}
        self.outbox = out
        await self._checkpoint()
        if out:
            await self._publish(out)
            self.outbox = []

    def _key(self, topic: str, event: Mapping[str, Any]) -> bytes:
        if topic == self.topics.incidents:
            return str(event["id"]).encode()
        if topic == self.topics.alert_stats:
            return row_key(event).encode()
        return str(event["service"]).encode()

    async def _checkpoint(self) -> None:
        """Changed records (each with the checkpoint number and its previous state), the
        outbox, then the meta record that makes them count (see `_restore`).

        Every part of the state that grows with series, alerts or deliveries is a record per
        entry, written when it changes, so no record grows with the fleet; the meta record
        holds offsets and counters only."""
        producer = self.producer
        assert producer is not None and self.book is not None and self.policies is not None
        self.seq += 1
        records = [(b"i|" + ident.encode(), orjson.dumps(incident_record(self.book.incidents[ident])))
                   for ident in sorted(self._changed) if ident in self.book.incidents]
        records += [(b"b|" + key.encode(), encode(self.policies.budgets[key]))
                    for key in sorted(self._changed_budgets) if key in self.policies.budgets]
        scalars, sections = self._state()
        entries: set[bytes] = set()
        for section, values in sections.items():
            prefix = b"s|%b|" % section.encode()
            for name, value in values.items():
                key = prefix + str(name).encode()
                entries.add(key)
                state = orjson.dumps(value)
                if self._saved.get(key) != state:
                    records.append((key, state))
        records += [(key, b"null") for key in sorted(self._entries - entries)]
        written = {key for key, _ in records}
        records += [(key, self._saved.get(key, b"null")) for key in sorted(self._torn - written)]
        self._torn.clear()
        for key, state in records:
            previous = self._saved.get(key, b"null")
            await producer.send(self.changelog, b'{"seq":%d,"state":%b,"previous":%b}' % (
                self.seq, state, previous), key=key, partition=0)
            if state == b"null":
                self._saved.pop(key, None)
                self._graves.add(key)
            else:
                self._saved[key] = compact(state)
        self._entries = entries
        self._changed.clear()
        self._changed_budgets.clear()
        chunks = _chunks([orjson.dumps([topic, event]) for topic, event in self.outbox])
        for n, chunk in enumerate(chunks):
            await producer.send(self.changelog, chunk, key=b"o|%d|%d" % (self.seq % 2, n),
                                partition=0)
        await producer.flush()
        meta = {"version": 2, "seq": self.seq, "offsets": self.offsets, "state": scalars,
                "outbox": len(chunks), "delivery_seq": self.delivery_seq,
                "published": {topic: {str(k): v for k, v in offsets.items()}
                              for topic, offsets in self.published.items()}}
        await producer.send(self.changelog, orjson.dumps(meta), key=b"m", partition=0)
        for key in sorted(self._graves):  # removed entries: gone for good once the meta counts
            await producer.send(self.changelog, None, key=key, partition=0)
        self._graves.clear()
        await producer.flush()

    def _state(self) -> tuple[dict[str, dict[str, Any]], dict[str, Mapping[str, Any]]]:
        """The state besides incidents and budgets: (scalars for the meta record, keyed maps
        stored a record per entry, by section name "<part>.<field>")."""
        assert self.book is not None and self.policies is not None
        scalars: dict[str, dict[str, Any]] = {}
        sections: dict[str, Mapping[str, Any]] = {"pending": self.pending}
        for part, exported in (("book", book_meta(self.book)), ("policy", self.policies.export()),
                               ("noise", self.noise.export())):
            for field, value in exported.items():
                if isinstance(value, Mapping):
                    sections[f"{part}.{field}"] = value
                else:
                    scalars.setdefault(part, {})[field] = value
        return scalars, sections

    async def _publish(self, items: list[tuple[str, dict[str, object]]]) -> None:
        """Incident events keyed by incident, policy events by service, alert statistics by
        rule and series (each in order)."""
        producer = self.producer
        assert producer is not None
        sent = [(topic, await producer.send(topic, orjson.dumps(event), key=self._key(topic, event)))
                for topic, event in items]
        for topic, future in sent:
            metadata = await future
            offsets = self.published.setdefault(topic, {})
            offsets[metadata.partition] = max(metadata.offset, offsets.get(metadata.partition, -1))

    # -- deliveries ----------------------------------------------------------------------

    @mode.Service.task
    async def _deliver(self) -> None:
        """Pending deliveries, each receiver's in event order, receivers side by side."""
        while not self.should_stop:
            await asyncio.sleep(0.2)
            if not self.pending or self.session is None or not self.leading:
                continue  # (a former leader's deliveries are its successor's now)
            now = time.time()
            queues: dict[str, list[dict[str, Any]]] = {}
            for delivery in sorted(self.pending.values(), key=_event_order):
                queues.setdefault(delivery["receiver"], []).append(delivery)
            results = await asyncio.gather(*(self._deliver_to(name, queue, now)
                                             for name, queue in queues.items()))
            done = [outcome for result in results for outcome in result]
            if done:
                await self._record(done)

    async def _deliver_to(self, name: str, queue: list[dict[str, Any]],
                          now: float) -> list[tuple[dict[str, Any], Attempt | None]]:
        """Deliveries to one receiver until one is not due, rate-limited or failing: it holds
        back the rest, so a resolve never overtakes its trigger."""
        assert self.session is not None
        receiver = self.notify.receivers.get(name)
        done: list[tuple[dict[str, Any], Attempt | None]] = []
        for delivery in queue:
            if receiver is None:  # removed from the configuration since the event
                done.append((delivery, Attempt("dead", None, f"no receiver {name!r} configured")))
                continue
            if delivery["not_before"] > now or self.limiter.wait_time(receiver, now) > 0:
                break
            key = secret(receiver.routing_key_env) if receiver.routing_key_env else (
                receiver.routing_key)
            body = payload(receiver, convert(delivery["event"], IncidentEvent, "incident"), key)
            if body is None:
                done.append((delivery, None))  # nothing for this receiver (e.g. PagerDuty updates)
                continue
            attempt = await send(self.session, receiver, body, delivery["key"],
                                 delivery["attempt"] + 1)
            done.append((delivery, attempt))
            if attempt.outcome == "retry":
                break
        return done

    async def _record(self, done: list[tuple[dict[str, Any], Attempt | None]]) -> None:
        """Store the outcome of delivery attempts; logged once stored (a restart from then on
        neither repeats nor loses them)."""
        dead = []
        lines: list[tuple[int, str, tuple[object, ...]]] = []
        async with self.lock:
            if self.book is None or self.stopping:
                return  # no longer the leader: the new one retries from its state
            for delivery, attempt in done:
                key = delivery["key"]
                if self.pending.get(key) is not delivery:
                    continue  # delivered meanwhile, or state restored since: it decides
                if attempt is None or attempt.outcome == "delivered":
                    del self.pending[key]
                    if attempt is not None:
                        lines.append((logging.INFO, "delivered %s %s of %s to %s (HTTP %s)", (
                            delivery["event"]["event"], key, delivery["event"]["id"],
                            delivery["receiver"], attempt.status)))
                elif attempt.outcome == "retry":
                    delivery["attempt"] += 1
                    delivery["not_before"] = attempt.retry_at
                    lines.append((logging.WARNING, "delivery to %s failed (%s), retry %d", (
                        delivery["receiver"], attempt.status or attempt.detail,
                        delivery["attempt"])))
                else:
                    del self.pending[key]
                    receiver = delivery["receiver"]
                    reason = (f"notification refused by {receiver}: HTTP {attempt.status}"
                              if attempt.status else f"notification to {receiver} failed: "
                              f"{attempt.detail}")
                    dead.append({"kind": "dead-letter", "version": 1, "reason": reason,
                                 "topic": self.topics.incidents, "partition": -1, "offset": -1,
                                 "payload": orjson.dumps({
                                     "delivery": key, "receiver": receiver,
                                     "response": attempt.detail,
                                     "incident": delivery["event"]["id"],
                                     "event": delivery["event"]["event"]}).decode()})
                    lines.append((logging.WARNING, "%s: dead-lettered", (reason,)))
            await self._commit([], dead)
        for level, message, args in lines:
            log.log(level, message, *args)

    # -- leadership ----------------------------------------------------------------------

    async def assigned(self, partitions: Iterable[TopicPartition]) -> None:
        mine = [tp for tp in partitions if tp.topic in self.inputs]
        async with self.lock:
            if not mine:
                self.book = self.policies = None
                self.pending = {}
                return
            book, policies = IncidentBook(self.policy), PolicyBook(self.slo_file)
            stored = (await read_partitions(self.settings, self.changelog, [0]))[0]
            self._restore(book, policies, stored)
            self.book, self.policies = book, policies
            consumer = self.consumer
            assert consumer is not None
            for tp in mine:
                offset = self.offsets.get(f"{tp.topic}:{tp.partition}")
                if offset is not None:
                    consumer.seek(tp, offset + 1)
                else:
                    await consumer.seek_to_beginning(tp)
            if self.outbox:
                await self._republish()
            self.last_input = time.monotonic()
            log.info("incident leader: %d incident(s), %d series budget(s), %d pending deliveries",
                     len(book.incidents), len(policies.budgets), len(self.pending))

    def _restore(self, book: IncidentBook, policies: PolicyBook,
                 stored: list[tuple[bytes, bytes | None]]) -> None:
        """The last complete checkpoint, from the latest record of each key (`read_partitions`):
        records newer than the meta record (a checkpoint cut short) count with their previous
        state."""
        latest = {key: value for key, value in stored if value is not None}  # (None: deleted)
        self.offsets, self.pending, self.outbox, self.published, self.seq = {}, {}, [], {}, 0
        self.delivery_seq = 0
        self.noise = NoiseBook()
        self._saved, self._entries, self._graves, self._torn = {}, set(), set(), set()
        if b"m" not in latest:
            return
        meta = orjson.loads(latest.pop(b"m"))
        self.seq = int(meta["seq"])
        incidents: list[dict[str, Any]] = []
        budgets: list[dict[str, Any]] = []
        parts: dict[str, dict[str, Any]] = {
            part: dict(meta.get(part) or {}) for part in ("book", "policy", "noise")}  # version 1
        for part, values in (meta.get("state") or {}).items():
            parts.setdefault(part, {}).update(values)
        pending: dict[str, Any] = {d["key"]: d for d in meta.get("pending") or []}
        for key, value in latest.items():
            if not key.startswith((b"i|", b"b|", b"s|")):
                continue
            record = orjson.loads(value)
            state = record["state"] if record["seq"] <= self.seq else record["previous"]
            if record["seq"] > self.seq:
                # From a checkpoint cut short: written again by the next one, before its meta
                # record (which would otherwise make this one count).
                self._torn.add(key)
            if state is None:
                self._graves.add(key)  # removed (or not yet there) as of the checkpoint
                continue
            self._saved[key] = compact(orjson.dumps(state))
            if key.startswith(b"i|"):
                incidents.append(state)
            elif key.startswith(b"b|"):
                budgets.append(state)
            else:
                self._entries.add(key)
                section, name = key[2:].decode().split("|", 1)
                part, _, field = section.partition(".")
                if section == "pending":
                    pending[name] = state
                else:
                    parts.setdefault(part, {}).setdefault(field, {})[name] = state
        restore_book(book, parts["book"], incidents)
        policies.restore(parts["policy"], budgets)
        self.noise.restore(parts["noise"])
        self.offsets = {k: int(v) for k, v in meta["offsets"].items()}
        self.pending = pending
        self.delivery_seq = int(meta.get("delivery_seq", 0))
        if isinstance(meta["outbox"], list):  # version 1: the outbox in the meta record
            self.outbox = [(str(topic), event) for topic, event in meta["outbox"]]
        else:
            self.outbox = [(str(topic), event) for n in range(int(meta["outbox"]))
                           for topic, event in orjson.loads(latest[b"o|%d|%d" % (self.seq % 2, n)])]
        self.published = {topic: {int(k): int(v) for k, v in offsets.items()}
                          for topic, offsets in (meta.get("published") or {}).items()}

    async def _republish(self) -> None:
        """Publish the outputs of the last checkpoint that did not reach their topics."""
        missing: list[tuple[str, dict[str, object]]] = []
        for topic in sorted({topic for topic, _ in self.outbox}):
            seen = {canonical(m) for m in map(orjson.loads, await read_after(
                self.settings, topic, self.published.get(topic, {})))}
            missing += [(t, e) for t, e in self.outbox if t == topic and canonical(e) not in seen]
        if missing:
            await self._publish(missing)
        self.outbox = []

    async def revoked(self, partitions: Iterable[TopicPartition]) -> None:
        async with self.lock:
            self.book = self.policies = None
            self.pending = {}  # stored with the state: the next leader delivers them

    # -- questions from the API (on the leader) ----------------------------------------------

    @property
    def leading(self) -> bool:
        return self.book is not None and self.policies is not None

    @property
    def leader_url(self) -> str | None:
        return self.assignor.leader_url

    async def add_override(self, service: str, body: Mapping[str, Any]) -> dict[str, object]:
        """Store an override, publish its audit event on `sre.policy`; returns the event."""
        async with self.lock:
            if self.policies is None:
                raise LookupError("not the leader")
            event = record_of(self.policies.add_override(service, body, time.time()))
            await self._commit([(self.topics.policy, event)], [])
            return event


def _chunks(items: list[bytes], size: int = 128 << 10) -> list[bytes]:
    """JSON arrays of the (serialised) items, each about `size` bytes at most: far below the
    broker's message limit, however many events a checkpoint produced."""
    chunks: list[bytes] = []
    current: list[bytes] = []
    length = 0
    for item in items:
        if current and length + len(item) > size:
            chunks.append(b"[" + b",".join(current) + b"]")
            current, length = [], 0
        current.append(item)
        length += len(item) + 1
    if current:
        chunks.append(b"[" + b",".join(current) + b"]")
    return chunks


def canonical(message: object) -> bytes:
    return orjson.dumps(message, option=orjson.OPT_SORT_KEYS)


def _event_order(delivery: Mapping[str, Any]) -> int:
    return int(delivery.get("seq", 0))


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, service: IncidentService) -> None:
        self.service = service

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.service.revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self.service.assigned(assigned)
