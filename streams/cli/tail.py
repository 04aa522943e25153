"""`sre-streams tail`: follow an output topic, human-readable or `--json`."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from typing import BinaryIO, TextIO

import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from streams.cli.render import render
from streams.cli.usage import (
    EXIT_FAILURE,
    EXIT_OK,
    SubParsers,
    broker_failure,
    duration_flag,
    settings_for,
)
from streams.runtime.kafka.clients import client_options
from streams.runtime.kafka.lifecycle import running
from streams.runtime.settings import Settings

PROG = "sre-streams tail"


def add_parser(commands: SubParsers) -> None:
    tail_ = commands.add_parser("tail", help="follow an output topic")
    tail_.add_argument("topic", help="alerts, budgets, dead-letter, incidents, or a topic name")
    tail_.add_argument("--broker", help="Kafka URL (default: $SRE_BROKER)")
    tail_.add_argument("--json", action="store_true", help="print the messages as JSON lines")
    tail_.add_argument("--new", action="store_true", help="only messages published from now on")
    tail_.add_argument("--max", type=int, help="stop after this many messages")
    tail_.add_argument("--timeout", help="stop after this long")


def run(args: argparse.Namespace, stdout: BinaryIO, stderr: TextIO) -> int:
    settings = settings_for({"broker": args.broker}, PROG)
    timeout = duration_flag(args.timeout, "tail_timeout", 0.0, PROG) if args.timeout else None

    def emit(value: bytes) -> None:
        if args.json:
            stdout.write(value.rstrip(b"\n") + b"\n")
        else:
            try:
                stdout.write(render(value).encode() + b"\n")
            except orjson.JSONDecodeError:
                stdout.write(value + b"\n")
        stdout.flush()

    try:
        asyncio.run(tail(settings, settings.topics.named(args.topic), emit,
                         from_beginning=not args.new, limit=args.max, timeout=timeout))
    except (OSError, KafkaError) as exc:
        print(broker_failure(PROG, settings, exc), file=stderr)
        return EXIT_FAILURE
    return EXIT_OK


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
