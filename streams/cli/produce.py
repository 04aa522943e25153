"""`sre-streams produce`: publish a JSONL file of events to the requests topic, with progress."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import BinaryIO, TextIO

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from streams.cli.usage import (
    EXIT_FAILURE,
    EXIT_OK,
    SubParsers,
    UsageError,
    broker_failure,
    load_slos,
    settings_for,
)
from streams.domain.slo.model import SloFile
from streams.offline.jsonl import EventFile
from streams.offline.progress import Progress
from streams.runtime.kafka.clients import client_options, ensure_topics
from streams.runtime.settings import Settings

PROG = "sre-streams produce"


def add_parser(commands: SubParsers) -> None:
    produce_ = commands.add_parser("produce",
                                   help="publish a JSONL file of events to the requests topic")
    produce_.add_argument("--events", required=True, help="JSONL file (.gz allowed)")
    produce_.add_argument("--broker", help="Kafka URL (default: $SRE_BROKER)")
    produce_.add_argument("--slos", help="SLO file, to key count events by their SLO's service")
    produce_.add_argument("--batch", type=int, default=1,
                          help="pack up to N events of one key into a JSON array per message")
    produce_.add_argument("--quiet", action="store_true", help="no progress")


def run(args: argparse.Namespace, stdout: BinaryIO, stderr: TextIO) -> int:
    settings = settings_for({"broker": args.broker, "slos": args.slos}, PROG)
    slos = load_slos(settings.slos, PROG) if settings.slos else None
    events = Path(args.events)
    if not events.is_file():
        raise UsageError(f"{PROG}: error: cannot read events file {events}")
    try:
        sent = asyncio.run(produce(settings, events, slos=slos, stderr=stderr,
                                   progress=not args.quiet, batch=args.batch))
    except (OSError, KafkaError) as exc:
        print(broker_failure(PROG, settings, exc), file=stderr)
        return EXIT_FAILURE
    if not args.quiet:
        print(f"produce: {sent:,} messages to {settings.topics.requests}", file=stderr)
    return EXIT_OK


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
