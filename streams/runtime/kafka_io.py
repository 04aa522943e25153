"""`produce` and `tail`: publishing event files and following output topics with aiokafka."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TextIO

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from streams.domain.slo.model import SloFile
from streams.offline.jsonl import EventFile
from streams.offline.progress import Progress
from streams.runtime.settings import Settings

log = logging.getLogger(__name__)


def client_options(settings: Settings) -> dict[str, Any]:
    """aiokafka connection options (bootstrap and security) from the settings."""
    options: dict[str, Any] = {"bootstrap_servers": settings.bootstrap,
                               "security_protocol": settings.security_protocol}
    if settings.sasl_mechanism:
        options.update(sasl_mechanism=settings.sasl_mechanism,
                       sasl_plain_username=settings.sasl_username,
                       sasl_plain_password=settings.sasl_password)
    if settings.security_protocol in {"SSL", "SASL_SSL"}:
        import ssl

        context = ssl.create_default_context(cafile=settings.ssl_cafile)
        if settings.ssl_certfile:
            context.load_cert_chain(settings.ssl_certfile, settings.ssl_keyfile)
        options["ssl_context"] = context
    return options


async def ensure_topics(settings: Settings, names: list[str], *, compact: bool = False,
                        partitions: int | None = None) -> None:
    """Create topics that do not exist yet, with the configured partition count."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        configs = {"cleanup.policy": "compact"} if compact else None
        missing = [NewTopic(name, partitions or settings.partitions, 1, topic_configs=configs)
                   for name in names if name not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
    finally:
        await admin.close()


def event_key(event: object, slo_services: dict[str, str]) -> bytes | None:
    """The partitioning key: the service (a count event's SLO's service), so a series stays
    on one partition."""
    if isinstance(event, list):
        event = event[0] if event else None
    if not isinstance(event, dict):
        return None
    service = event.get("service")
    if service is None and isinstance(event.get("slo"), str):
        service = slo_services.get(event["slo"], event["slo"])
    return str(service).encode() if service is not None else None


async def produce(settings: Settings, path: Path, *, slos: SloFile | None, stderr: TextIO,
                  progress: bool = True, batch: int = 1) -> int:
    """Publish every line of a JSONL file to the requests topic; returns messages sent."""
    services = {slo.name: slo.service for slo in slos.slos} if slos else {}
    topic = settings.topics.requests
    await ensure_topics(settings, [topic])
    producer = AIOKafkaProducer(**client_options(settings), linger_ms=5,
                                max_request_size=settings.max_message_bytes + 1024)
    await producer.start()
    sent = 0
    events_seen = 0
    try:
        with EventFile(path) as events:
            meter = Progress(events.size, stderr, label="produce", enabled=progress)
            pending: dict[bytes | None, list[bytes]] = {}
            try:
                for _, lines in events.blocks():
                    for line in lines:
                        if not line.strip():
                            continue
                        events_seen += 1
                        try:
                            key = event_key(orjson.loads(line), services)
                        except orjson.JSONDecodeError:
                            key = None  # sent as is: the worker dead-letters it
                        if batch <= 1:
                            await producer.send(topic, line, key=key)
                            sent += 1
                            continue
                        group = pending.setdefault(key, [])
                        group.append(line)
                        if len(group) >= batch:
                            await producer.send(topic, b"[" + b",".join(group) + b"]", key=key)
                            sent += 1
                            group.clear()
                    meter.update(events.position, events_seen)
                for key, group in pending.items():
                    if group:
                        await producer.send(topic, b"[" + b",".join(group) + b"]", key=key)
                        sent += 1
                await producer.flush()
            finally:
                meter.close()
    finally:
        await producer.stop()
    return sent


def render_alert(alert: dict[str, Any]) -> str:
    series = ",".join(f"{k}={v}" for k, v in alert.get("series", {}).items())
    where = f"{alert.get('slo')}{{{series}}}"
    if alert.get("status") == "firing":
        return (f"{alert.get('at')}  FIRING   {alert.get('severity', ''):<6} {where} {alert.get('rule')}"
                f"  burn {alert.get('burn_rate_long', 0):.1f}x/{alert.get('long_window')} "
                f"{alert.get('burn_rate_short', 0):.1f}x/{alert.get('short_window')}"
                f"  budget {100 * alert.get('error_budget_remaining', 0):.1f}%")
    return f"{alert.get('at')}  resolved {alert.get('severity', ''):<6} {where} {alert.get('rule')}"


def render_incident(incident: dict[str, Any]) -> str:
    event = str(incident.get("event"))
    detail = ""
    if event == "escalated":
        detail = f"  level {incident.get('escalation_level')} -> {', '.join(incident.get('notify', []))}"
    elif event == "resolved":
        detail = (f"  budget consumed {100 * incident.get('error_budget_consumed', 0):.2f}%, "
                  f"{incident.get('bad_events') or 0:,} failed requests")
    return (f"{incident.get('at')}  incident {event.upper() if event == 'opened' else event:<12} "
            f"{incident.get('severity')} {incident.get('id')} {incident.get('title')}{detail}")


def render(message: dict[str, Any]) -> str:
    """One human line for an output message."""
    kind = message.get("kind")
    if kind == "alert":
        return render_alert(message)
    if kind == "budget":
        series = ",".join(f"{k}={v}" for k, v in message.get("series", {}).items())
        return (f"{message.get('at')}  budget   {message.get('slo')}{{{series}}} "
                f"sli {message.get('sli', 1):.5f}  remaining "
                f"{100 * message.get('error_budget_remaining', 0):.1f}%  "
                f"firing {','.join(message.get('firing', [])) or '-'}")
    if kind == "incident":
        return render_incident(message)
    if kind == "dead-letter":
        return (f"dead-letter {message.get('topic')}[{message.get('partition')}]@"
                f"{message.get('offset')}: {message.get('reason')}")
    return orjson.dumps(message).decode()


def topic_name(settings: Settings, name: str) -> str:
    """Accept `alerts` as well as `sre.alerts`."""
    short = {"alerts": settings.topics.alerts, "budgets": settings.topics.budgets,
             "dead-letter": settings.topics.dead_letter, "incidents": settings.topics.incidents,
             "requests": settings.topics.requests, "commands": settings.topics.commands,
             "deploys": settings.topics.deploys}
    return short.get(name, name)


async def send_commands(settings: Settings, commands: list[dict[str, object]]) -> None:
    """Publish operator commands (each one message) to the commands topic."""
    await ensure_topics(settings, [settings.topics.commands])
    async with running(AIOKafkaProducer(**client_options(settings))) as producer:
        for command in commands:
            await producer.send_and_wait(settings.topics.commands, orjson.dumps(command))


@contextlib.asynccontextmanager
async def running(client: Any) -> AsyncIterator[Any]:
    """A started aiokafka client, stopped on the way out, also when it failed to start."""
    try:
        await client.start()
        yield client
    finally:
        await client.stop()


async def tail(settings: Settings, topic: str, emit: Callable[[bytes], None], *,
               from_beginning: bool = True, limit: int | None = None,
               timeout: float | None = None) -> int:
    """Follow a topic, calling `emit` with each message value; returns messages seen."""
    consumer = AIOKafkaConsumer(topic, **client_options(settings), group_id=None,
                                auto_offset_reset="earliest" if from_beginning else "latest",
                                enable_auto_commit=False)
    seen = 0
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    async with running(consumer):
        while limit is None or seen < limit:
            if deadline is not None and loop.time() >= deadline:
                break
            batches = await consumer.getmany(timeout_ms=200)
            for messages in batches.values():
                for message in messages:
                    if message.value is not None:
                        emit(message.value)
                        seen += 1
    return seen



STOP_GRACE = 10.0  # seconds a service waits for its step in hand, then for each client, at stop


@contextlib.asynccontextmanager
async def finishing(lock: asyncio.Lock, name: str) -> AsyncIterator[None]:
    """Hold `lock` at stop once the step in hand is done, or go on without it after
    STOP_GRACE (the broker gone, a flush would retry forever). A step cut short loses
    nothing: state counts only once its checkpoint is complete."""
    try:
        async with asyncio.timeout(STOP_GRACE):
            await lock.acquire()
    except TimeoutError:
        log.warning("%s: the step in hand did not finish within %.0f s (broker unreachable?): "
                    "stopping without it; it is done again from the last checkpoint",
                    name, STOP_GRACE)
        yield
        return
    try:
        yield
    finally:
        lock.release()


async def stop_clients(name: str, *clients: Any) -> None:
    """Stop aiokafka clients, each within STOP_GRACE seconds (see `finishing`)."""
    for client in clients:
        if client is None:
            continue
        try:
            async with asyncio.timeout(STOP_GRACE):
                await client.stop()
        except TimeoutError:
            log.warning("%s: %s did not stop within %.0f s (broker unreachable?): left behind",
                        name, type(client).__name__, STOP_GRACE)


async def read_partitions(settings: Settings, topic: str, partitions: list[int], *,
                          quiet_ms: int = 500) -> dict[int, list[tuple[bytes, bytes | None]]]:
    """The latest (key, value) of every key of these partitions of `topic` (a changelog: a
    compacted topic, whatever the broker has compacted yet), from the start to its end at the
    time of the call (the end as in `read_after`: where the partition goes quiet). A deleted
    key's value is None."""
    found: dict[int, dict[bytes, bytes | None]] = {p: {} for p in partitions}
    if not partitions:
        return {}
    consumer = AIOKafkaConsumer(**client_options(settings), group_id=None,
                                enable_auto_commit=False, auto_offset_reset="earliest",
                                max_partition_fetch_bytes=8 << 20, fetch_max_bytes=64 << 20)
    async with running(consumer):
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        await consumer.seek_to_beginning(*tps)
        while True:
            behind = [tp for tp in tps if await consumer.position(tp) < ends[tp]]
            batches = await consumer.getmany(timeout_ms=quiet_ms if not behind else 500,
                                             max_records=100_000)
            for tp, messages in batches.items():
                latest = found[tp.partition]
                for m in messages:
                    if m.key is not None:
                        latest[m.key] = m.value
            if not behind and not batches:
                return {p: list(latest.items()) for p, latest in found.items()}


async def read_after(settings: Settings, topic: str, offsets: dict[int, int], *,
                     quiet_ms: int = 1000) -> list[bytes]:
    """Every message value of `topic` after `offsets` (partition -> offset; from the start
    for partitions not given), up to the end of the topic at the time of the call.

    The end is where the topic goes quiet, not only the end offsets the broker reports: some
    brokers (the bundled one) report one past the first record of a partition's last batch.
    """
    consumer = AIOKafkaConsumer(topic, **client_options(settings), group_id=None,
                                enable_auto_commit=False, auto_offset_reset="earliest")
    values: list[bytes] = []
    async with running(consumer):  # subscribed first: that fetches the topic's partitions
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.unsubscribe()
        if not tps:
            return values
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        for tp in tps:
            if tp.partition in offsets:
                consumer.seek(tp, offsets[tp.partition] + 1)
            else:
                await consumer.seek_to_beginning(tp)
        while True:
            behind = [tp for tp in tps if await consumer.position(tp) < ends[tp]]
            batches = await consumer.getmany(timeout_ms=quiet_ms if not behind else 500)
            for messages in batches.values():
                values += [m.value for m in messages if m.value is not None]
            if not behind and not batches:
                return values
