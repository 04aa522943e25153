"""`sre-streams worker`: run the Faust worker; Faust's worker options pass through."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import BinaryIO, TextIO

from aiokafka.errors import KafkaError

from streams.cli.usage import (
    EXIT_FAILURE,
    EXIT_OK,
    SubParsers,
    broker_failure,
    load_slos,
    settings_for,
)
from streams.runtime.kafka.clients import check_broker

PROG = "sre-streams worker"


def add_parser(commands: SubParsers) -> None:
    worker = commands.add_parser(
        "worker", help="run the Faust worker (all agents); Faust's worker options pass through",
        description="Run the stream processor. Options other than these go to Faust's worker "
                    "(e.g. -l info, --web-port).")
    worker.add_argument("--slos", help="SLO file (default: $SRE_SLOS)")
    worker.add_argument("--broker", help="Kafka URL, kafka://host:port (default: $SRE_BROKER)")


def run(args: argparse.Namespace, stdout: BinaryIO, stderr: TextIO) -> int:
    settings = settings_for({"slos": args.slos, "broker": args.broker}, PROG)
    load_slos(settings.slos, PROG)  # refuse to start on a bad file
    try:  # an unreachable broker or refused credentials: one line, not Faust's traceback
        asyncio.run(check_broker(settings))
    except (OSError, KafkaError) as exc:
        print(broker_failure(PROG, settings, exc), file=stderr)
        return EXIT_FAILURE
    logging.getLogger("aiokafka").setLevel(logging.NOTSET)  # the worker logs its clients
    from streams.app import create_app

    app = create_app(settings)
    passthrough: list[str] = args.passthrough
    if not any(arg.startswith(("--with-web", "--web-port", "--without-web")) for arg in passthrough):
        passthrough = ["--without-web", *passthrough]  # Faust's own web server: bind no port
    sys.argv = ["sre-streams", "worker", *passthrough]
    try:
        app.main()
    except SystemExit as exit_:
        return int(exit_.code or 0) if not isinstance(exit_.code, str) else EXIT_FAILURE
    return EXIT_OK
