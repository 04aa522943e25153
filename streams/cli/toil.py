"""`sre-streams toil`: log a piece of work, or report toil and what is worth automating."""

from __future__ import annotations

import argparse
import asyncio
import time
import zlib
from pathlib import Path
from typing import BinaryIO, TextIO

import msgspec
import orjson

from streams.cli.usage import (
    EXIT_FAILURE,
    EXIT_OK,
    SubParsers,
    UsageError,
    broker_failure,
    load_slos,
    settings_for,
)
from streams.domain.durations import DurationError, parse_duration
from streams.domain.timestamps import format_ts, parse_ts

PROG = "sre-streams toil"


def add_parser(commands: SubParsers) -> None:
    toil = commands.add_parser(
        "toil", help="log work on sre.toil, or report toil and automation candidates",
        description="Measure toil (manual, repetitive operational work) per team against its cap, "
                    "and rank automation candidates by the hours they would save.")
    actions = toil.add_subparsers(dest="action", metavar="ACTION", required=True)
    log = actions.add_parser("log", help="publish one piece of work to sre.toil")
    log.add_argument("--team", required=True)
    log.add_argument("--task", required=True, help="what was done, the same words each time")
    log.add_argument("--minutes", required=True, type=float, help="time spent, context switch included")
    log.add_argument("--by", required=True, help="who did it")
    log.add_argument("--kind", choices=("toil", "project", "overhead"), default="toil")
    log.add_argument("--source", choices=("ticket", "page", "request", "manual"), default="manual")
    log.add_argument("--ref", help="a ticket or incident this was for")
    log.add_argument("--ts", help="when the work ended (default: now)")
    log.add_argument("--broker", help="Kafka broker URL (default: $SRE_BROKER)")
    report = actions.add_parser("report", help="toil per team and automation candidates")
    report.add_argument("--slos", help="SLO file with a toil section (default: $SRE_SLOS)")
    report.add_argument("--events", required=True, help="JSONL file of work events (.gz allowed)")
    report.add_argument("--incidents", help="JSONL file of incident events (on-call work is derived)")
    report.add_argument("--requests", help="JSONL file of request events (toil per million requests)")
    report.add_argument("--since", default="28d", help="window length (default 28d)")
    report.add_argument("--at", help="end of the window (default: the latest event)")
    report.add_argument("--json", action="store_true", help="write the report as JSON on stdout")
    report.add_argument("--report", help="also write the report to F.md or F.html")


def run(args: argparse.Namespace, stdout: BinaryIO, stderr: TextIO) -> int:
    return _log(args, stdout, stderr) if args.action == "log" else _report(args, stdout, stderr)


def _log(args: argparse.Namespace, stdout: BinaryIO, stderr: TextIO) -> int:
    from aiokafka.errors import KafkaError

    from streams.runtime.kafka.clients import send_messages
    from streams.wire.codec import WireError
    from streams.wire.toil import checked, decode_work

    prog = f"{PROG} log"
    event: dict[str, object] = {
        "ts": args.ts or format_ts(time.time()), "team": args.team, "by": args.by,
        "task": args.task, "minutes": args.minutes, "kind": args.kind, "source": args.source}
    if args.ref:
        event["ref"] = args.ref
    try:
        checked(decode_work(orjson.dumps(event)))
    except WireError as exc:
        raise UsageError(f"{prog}: error: {exc}") from None
    settings = settings_for({"broker": args.broker}, prog)
    try:
        asyncio.run(send_messages(settings, settings.topics.toil, [event]))
    except (OSError, KafkaError) as exc:
        print(broker_failure(prog, settings, exc), file=stderr)
        return EXIT_FAILURE
    stdout.write(f"logged {args.minutes:g} min of {args.kind} for {args.team}: {args.task}\n".encode())
    return EXIT_OK


def _report(args: argparse.Namespace, stdout: BinaryIO, stderr: TextIO) -> int:
    from streams.domain.toil.render import html_page, markdown, text_summary
    from streams.domain.toil.report import toil_report
    from streams.offline.toil import MAX_SHOWN, read_inputs

    prog = f"{PROG} report"
    slos = load_slos(args.slos, prog)
    try:
        since = parse_duration(args.since)
        at = parse_ts(args.at) if args.at else None
    except (DurationError, ValueError) as exc:
        raise UsageError(f"{prog}: error: {exc}") from None
    if args.report and not args.report.endswith((".md", ".html")):
        raise UsageError(f"{prog}: error: --report must end in .md or .html, got {args.report}")
    paths = [Path(p) for p in (args.events, args.incidents, args.requests) if p]
    for path in paths:
        if not path.is_file():
            raise UsageError(f"{prog}: error: cannot read {path}: "
                             f"{'no such file' if not path.exists() else 'not a file'}")
    try:
        inputs = read_inputs(slos, Path(args.events), args.incidents and Path(args.incidents),
                             args.requests and Path(args.requests))
    except (OSError, EOFError, zlib.error) as exc:
        print(f"{prog}: error: reading: {exc}", file=stderr)
        return EXIT_FAILURE
    for line in inputs.bad[:MAX_SHOWN]:
        print(f"{prog}: skipped {line}", file=stderr)
    if len(inputs.bad) > MAX_SHOWN:
        print(f"{prog}: skipped {len(inputs.bad) - MAX_SHOWN} more bad lines", file=stderr)
    end = at if at is not None else inputs.latest
    if end is None:
        raise UsageError(f"{prog}: error: no work in {args.events}: nothing to report")
    config = slos.toil
    report = toil_report(inputs.ledger(config.interrupt_minutes, end), config, end - since, end,
                         inputs.requests or None)
    if args.report:
        text = markdown(report) if args.report.endswith(".md") else html_page(report)
        try:
            Path(args.report).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"{prog}: error: cannot write {args.report}: {exc.strerror}") from None
    if args.json:
        stdout.write(orjson.dumps(msgspec.to_builtins(report), option=orjson.OPT_INDENT_2) + b"\n")
    else:
        stdout.write(text_summary(report).encode())
    return EXIT_OK
