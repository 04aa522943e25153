"""`sre-streams demo`: bundled broker, a worker and live traffic with an outage, shown live."""

from __future__ import annotations

import argparse
import sys
from typing import BinaryIO, TextIO

from aiokafka.errors import KafkaError

from streams.cli.usage import EXIT_FAILURE, SubParsers, duration_flag, settings_for
from streams.runtime.settings import from_env

PROG = "sre-streams demo"


def add_parser(commands: SubParsers) -> None:
    demo = commands.add_parser(
        "demo", help="bundled broker + worker + live traffic with an outage, shown live",
        description="With no broker configured, start the bundled local broker, a worker and "
                    "a traffic generator that injects an outage; show burn rates, budgets and "
                    "alerts live. Ctrl-C stops everything.")
    demo.add_argument("--duration", help="stop by itself after this long (default: run until Ctrl-C)")
    demo.add_argument("--keep-logs", action="store_true", help="keep the broker and worker logs")


def run(args: argparse.Namespace, stdout: BinaryIO, stderr: TextIO) -> int:
    from streams.demo.run import run_demo
    from streams.runtime.kafka.local_broker import BrokerError

    embedded = from_env("broker") is None
    settings = settings_for({}, PROG)
    duration = duration_flag(args.duration, "demo_duration", 0.0, PROG) if args.duration else None
    try:
        return run_demo(settings, embedded=embedded, out=sys.stdout, duration=duration,
                        keep=args.keep_logs)
    except BrokerError as exc:
        print(f"{PROG}: error: {exc}", file=stderr)
        return EXIT_FAILURE
    except (OSError, KafkaError) as exc:
        print(f"{PROG}: error: {type(exc).__name__}: {exc}", file=stderr)
        return EXIT_FAILURE
