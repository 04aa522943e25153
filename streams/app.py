"""The Faust app (`streams.app:app`): wiring between Kafka topics and `streams.live`.

Agents stay thin: take a batch of input events, hand each partition's run to its
`PartitionProcessor`, publish what comes out. Input is keyed so that one series lives on
one partition: producers key request events by `service` (count events by the SLO's
service); `sre-streams produce` does this.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from typing import Any

import faust
import orjson

from streams.domain.evaluation import EngineSettings
from streams.domain.slo import SloFile
from streams.domain.slo_loader import load_slo_file
from streams.live import Output, PartitionProcessor
from streams.settings import Settings


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
    state: dict[str, Any] = {"processors": {}, "slos": None}

    def slo_file() -> SloFile:
        if state["slos"] is None:
            if not settings.slos:
                raise RuntimeError("no SLO file: set SRE_SLOS or pass --slos")
            state["slos"] = load_slo_file(settings.slos)
        return state["slos"]  # type: ignore[no-any-return]

    engine_settings = EngineSettings(eval_interval=settings.eval_interval,
                                     lateness=settings.lateness,
                                     budget_interval=settings.budget_interval)

    def processor(partition: int) -> PartitionProcessor:
        processors: dict[int, PartitionProcessor] = state["processors"]
        found = processors.get(partition)
        if found is None:
            found = processors[partition] = PartitionProcessor(
                slo_file(), engine_settings, topics.requests, partition,
                settings.max_message_bytes, settings.max_future)
        return found

    async def publish(out: Output) -> None:
        for alert in out.alerts:
            await outputs["alerts"].send(key=str(alert["id"]).encode(), value=orjson.dumps(alert))
        for snapshot in out.budgets:
            key = orjson.dumps([snapshot["slo"], snapshot["series"]])
            await outputs["budgets"].send(key=key, value=orjson.dumps(snapshot))
        for record in out.dead_letters:
            await outputs["dead_letters"].send(value=orjson.dumps(record))

    @app.agent(requests, name="evaluate")
    async def evaluate(stream: faust.StreamT[bytes]) -> None:
        async for events in stream.take_events(settings.batch_size, within=0.1):  # type: ignore[attr-defined]
            runs: dict[int, list[tuple[int, bytes | None]]] = defaultdict(list)
            for event in events:
                runs[event.message.partition].append((event.message.offset, event.value))
            now = time.time()
            for partition, records in runs.items():
                await publish(processor(partition).process(records, now))

    @app.timer(1.0)  # type: ignore[untyped-decorator]
    async def advance_idle_partitions() -> None:
        now = time.time()
        consumer = app.consumer
        for tp in consumer.assignment():
            if tp.topic != topics.requests:
                continue
            proc = state["processors"].get(tp.partition)
            if proc is None or time.monotonic() - proc.last_event_at < settings.idle_timeout:
                continue
            if consumer.highwater(tp) > proc.offset + 1:
                continue  # not caught up: lag is not idleness
            await publish(proc.idle(now))
            await asyncio.sleep(0)

    app.sre_settings = settings  # type: ignore[attr-defined]
    app.sre_state = state  # type: ignore[attr-defined]
    return app


app = create_app(Settings.load())
