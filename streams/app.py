"""The Faust app (`streams.app:app`): wiring between Kafka topics and `streams.live`.

Agents stay thin: take a batch of input events, hand each partition's run to its
`PartitionProcessor`, publish what comes out. Input is keyed so that one series lives on
one partition: producers key request events by `service` (count events by the SLO's
service); `sre-streams produce` does this.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from typing import Any

import faust
import orjson
from faust.types import TP

from streams.domain.evaluation import EngineSettings
from streams.domain.slo import SloFile
from streams.domain.slo_loader import load_slo_file
from streams.kafka_io import read_after
from streams.live import Output, PartitionProcessor
from streams.settings import Settings

log = logging.getLogger(__name__)


def _credentials(settings: Settings) -> Any:
    if settings.sasl_mechanism:
        return faust.SASLCredentials(
            username=settings.sasl_username, password=settings.sasl_password,
            mechanism=settings.sasl_mechanism,
            ssl_context=_ssl(settings) if settings.security_protocol == "SASL_SSL" else None,
        )
    if settings.security_protocol == "SSL":
        return _ssl(settings)
    return None


def _ssl(settings: Settings) -> Any:
    import ssl

    context = ssl.create_default_context(cafile=settings.ssl_cafile)
    if settings.ssl_certfile:
        context.load_cert_chain(settings.ssl_certfile, settings.ssl_keyfile)
    return context


def create_app(settings: Settings) -> faust.App:
    """Build the app for these settings (nothing connects until a worker starts)."""
    app = faust.App(
        settings.app_id,
        broker=settings.broker,
        broker_credentials=_credentials(settings),
        autodiscover=False,
        datadir=settings.data_dir,
        topic_partitions=settings.partitions,
        topic_allow_declare=True,
        consumer_auto_offset_reset="earliest",
        # Fast group joins (the bundled broker waits the whole rebalance timeout).
        broker_rebalance_timeout=5.0,
        broker_session_timeout=10.0,
        broker_heartbeat_interval=1.0,
        web_enabled=False,
        key_serializer="raw",
        value_serializer="raw",
    )
    topics = settings.topics
    requests = app.topic(topics.requests, value_type=bytes, value_serializer="raw",
                         partitions=settings.partitions)
    outputs = {
        "alerts": app.topic(topics.alerts, value_serializer="raw", partitions=settings.partitions),
        "budgets": app.topic(topics.budgets, value_serializer="raw", partitions=settings.partitions),
        "dead_letters": app.topic(topics.dead_letter, value_serializer="raw",
                                  partitions=settings.partitions),
    }
    # The engine state of each input partition, in a table whose changelog has the same
    # partitions: partition N's state moves with input partition N. Records are written by
    # `checkpoint` (each changed series once per batch, then a meta record with the input
    # offset), not by per-event table updates.
    table = app.Table("engine-state", partitions=settings.partitions, key_type=bytes,
                      value_type=bytes)  # bytes types: raw keys and values, our own encoding
    changelog = table.changelog_topic
    state: dict[str, Any] = {"processors": {}, "slos": None, "moved_at": time.monotonic()}
    lock = asyncio.Lock()  # one batch, idle step or restore at a time

    def slo_file() -> SloFile:
        if state["slos"] is None:
            if not settings.slos:
                raise RuntimeError("no SLO file: set SRE_SLOS or pass --slos")
            state["slos"] = load_slo_file(settings.slos)
        return state["slos"]  # type: ignore[no-any-return]

    engine_settings = EngineSettings(eval_interval=settings.eval_interval,
                                     lateness=settings.lateness,
                                     budget_interval=settings.budget_interval)

    async def processor(partition: int) -> PartitionProcessor:
        """The partition's processor, restored from the table the first time."""
        processors: dict[int, PartitionProcessor] = state["processors"]
        found = processors.get(partition)
        if found is None:
            found = PartitionProcessor(slo_file(), engine_settings, topics.requests, partition,
                                       settings.max_message_bytes, settings.max_future)
            prefix = found.key_prefix()
            for warning in found.restore([(k, v) for k, v in table.data.items()
                                          if k.startswith(prefix)]):
                log.warning("partition %d: %s", partition, warning)
            if found.offset >= 0:
                log.info("partition %d: state restored at input offset %d (%d series, "
                         "checkpoint %d)", partition, found.offset, len(found.engine.series),
                         found.seq)
            if found.outbox:
                await republish(found)
            processors[partition] = found
        return found

    async def republish(proc: PartitionProcessor) -> None:
        """Publish the alerts of the last checkpoint that did not reach the topic."""
        seen = {(a["id"], a["status"], a["at"]) for a in map(orjson.loads, await read_after(
            settings, topics.alerts, proc.alert_offsets))}
        missing = [a for a in proc.outbox if (a["id"], a["status"], a["at"]) not in seen]
        if missing:
            log.info("partition %d: publishing %d alert(s) saved before a stop",
                     proc.partition, len(missing))
            await publish_alerts(proc, missing)
        proc.outbox = []

    async def publish_alerts(proc: PartitionProcessor, alerts: list[dict[str, object]]) -> None:
        sent = [await outputs["alerts"].send(key=str(alert["id"]).encode(), value=orjson.dumps(alert))
                for alert in alerts]
        for future in sent:
            metadata = await future
            proc.alert_offsets[metadata.partition] = max(
                metadata.offset, proc.alert_offsets.get(metadata.partition, -1))

    async def store(partition: int, key: bytes, value: bytes) -> None:
        """One table record, kept locally and sent to the changelog."""
        table.data[key] = value
        await changelog.send(key=key, value=value, partition=partition,
                             key_serializer="raw", value_serializer="raw")

    async def commit(proc: PartitionProcessor, out: Output) -> None:
        """Publish one step's output with its state: budgets and dead letters at least once
        (repeats are identical), the state, then alerts exactly once (see PartitionProcessor).

        The input offsets of the step are acknowledged after this returns, and Faust flushes
        the producer before it commits offsets: no offset is committed before its state.
        """
        for snapshot in out.budgets:
            key = orjson.dumps([snapshot["slo"], snapshot["series"]])
            await outputs["budgets"].send(key=key, value=orjson.dumps(snapshot))
        for record in out.dead_letters:
            await outputs["dead_letters"].send(value=orjson.dumps(record))
        # Sent straight to the producer, in order (not through Faust's send buffer, whose
        # flush may return with messages still queued), so the commit's producer flush
        # covers them. The meta record, which makes the checkpoint count, goes alone in the
        # partition's last batch: some brokers (the bundled one) report the end offset of a
        # partition as one past the first record of its last batch, and recovery reads up to
        # that end.
        checkpoint = proc.checkpoint(out.alerts)
        if not checkpoint:
            return
        *records, meta = checkpoint
        for key, value in records:
            await store(proc.partition, key, value)
        if records:
            await app.producer.flush()
        await store(proc.partition, *meta)
        if out.alerts:
            await app.producer.flush()  # the state and its outbox are stored first
            await publish_alerts(proc, out.alerts)

    @app.agent(requests, name="evaluate")
    async def evaluate(stream: faust.StreamT[bytes]) -> None:
        async for events in stream.take_events(settings.batch_size, within=0.1):  # type: ignore[attr-defined]
            runs: dict[int, list[tuple[int, bytes | None]]] = defaultdict(list)
            for event in events:
                runs[event.message.partition].append((event.message.offset, event.value))
            async with lock:
                now = time.time()
                for partition, records in runs.items():
                    proc = await processor(partition)
                    await commit(proc, proc.process(records, now))
                    if proc.gap is not None:
                        log.warning("partition %d: offsets %d to %d were committed but are not in "
                                    "the stored state: reading them again", partition,
                                    proc.gap[0], proc.gap[1] - 1)
                        await app.consumer.seek(TP(topics.requests, partition), proc.gap[0])
                        proc.gap = None

    @app.timer(1.0)  # type: ignore[untyped-decorator]
    async def advance_idle_partitions() -> None:
        """Partitions with no lag and no events for `idle_timeout` follow the clock.

        Only once partitions have settled: right after a rebalance the lag is not known yet
        and events have not had a chance to arrive.
        """
        if app.rebalancing or app.in_recovery:
            state["moved_at"] = time.monotonic()
            return
        consumer = app.consumer
        for tp in consumer.assignment():
            if tp.topic != topics.requests:
                continue
            while True:
                async with lock:
                    if app.rebalancing or app.in_recovery or tp not in consumer.assignment():
                        return  # partitions are moving: only a recovered owner may write state
                    proc = await processor(tp.partition)
                    quiet_since = max(proc.last_event_at, state["moved_at"])
                    if time.monotonic() - quiet_since < settings.idle_timeout:
                        break
                    highwater = consumer.highwater(tp)
                    if highwater is None or highwater > proc.offset + 1:
                        break  # lag unknown, or not caught up: lag is not idleness
                    out, done = proc.idle(time.time(), max_instants=360)
                    await commit(proc, out)
                await asyncio.sleep(0)
                if done:
                    break

    def settled(*_: Any, **__: Any) -> None:
        state["moved_at"] = time.monotonic()

    app.on_partitions_assigned.connect(settled)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def forget_revoked(app: faust.App, revoked: set[Any], **_: Any) -> None:
        """A partition moving away leaves its state to the changelog (already flushed)."""
        state["moved_at"] = time.monotonic()
        async with lock:
            for tp in revoked:
                if tp.topic == topics.requests:
                    proc = state["processors"].pop(tp.partition, None)
                    if proc is not None:
                        prefix = proc.key_prefix()
                        for key in [k for k in table.data if k.startswith(prefix)]:
                            del table.data[key]

    app.sre_settings = settings  # type: ignore[attr-defined]
    app.sre_state = state  # type: ignore[attr-defined]
    app.sre_table = table  # type: ignore[attr-defined]
    return app


app = create_app(Settings.load())
