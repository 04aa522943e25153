"""The `sre-streams` command. `main` is a thin wrapper over the testable `run`."""

from __future__ import annotations

import argparse
import sys
import zlib
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import BinaryIO, NoReturn, TextIO, cast

from aiokafka.errors import KafkaError

from streams import __version__
from streams.domain.engine.counters import PlanError
from streams.domain.engine.evaluation import EngineSettings
from streams.domain.slo.loader import SloFileError, load_slo_file
from streams.domain.slo.model import SloFile
from streams.runtime.settings import Settings, SettingsError, duration_setting, from_env

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad usage or a bad input file: one line on stderr, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: error: {message} (see --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="sre-streams",
        description="Event-time SLOs, error budgets and multiwindow burn-rate alerts on Kafka.",
    )
    parser.add_argument("--version", action="version", version=f"sre-streams {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    backtest = commands.add_parser(
        "backtest", help="replay a JSONL file of events and write the alerts it raises",
        description="Replay events (JSONL, .gz allowed, any order within lateness) through the "
                    "same evaluation code as the worker; alerts go to --out or stdout as JSONL, "
                    "the summary and progress to stderr.")
    backtest.add_argument("--slos", help="SLO file (default: $SRE_SLOS)")
    backtest.add_argument("--events", required=True, help="JSONL file of events (.gz allowed)")
    backtest.add_argument("--out", help="write alert events here (default: stdout)")
    backtest.add_argument("--budgets", help="write budget snapshots here as JSONL")
    backtest.add_argument("--dead-letters", help="write dead-letter records of bad input here")
    backtest.add_argument("--lateness", help="allowed lateness (default 5s; $SRE_LATENESS)")
    backtest.add_argument("--eval-interval", help="evaluation interval (default 10s)")
    backtest.add_argument("--budget-interval", help="budget snapshot interval (default 60s)")
    backtest.add_argument("--quiet", action="store_true", help="no progress and no summary")

    slo = commands.add_parser("slo", help="work with SLO files")
    slo_commands = slo.add_subparsers(dest="slo_command", metavar="SUBCOMMAND", parser_class=_Parser)
    slo_commands.required = True
    validate = slo_commands.add_parser("validate", help="check an SLO file, naming every problem")
    validate.add_argument("file", help="SLO file (YAML)")

    worker = commands.add_parser(
        "worker", help="run the Faust worker (all agents); Faust's worker options pass through",
        description="Run the stream processor. Options other than these go to Faust's worker "
                    "(e.g. -l info, --web-port).")
    worker.add_argument("--slos", help="SLO file (default: $SRE_SLOS)")
    worker.add_argument("--broker", help="Kafka URL, kafka://host:port (default: $SRE_BROKER)")

    demo = commands.add_parser(
        "demo", help="bundled broker + worker + live traffic with an outage, shown live",
        description="With no broker configured, start the bundled local broker, a worker and "
                    "a traffic generator that injects an outage; show burn rates, budgets and "
                    "alerts live. Ctrl-C stops everything.")
    demo.add_argument("--duration", help="stop by itself after this long (default: run until Ctrl-C)")
    demo.add_argument("--keep-logs", action="store_true", help="keep the broker and worker logs")

    produce = commands.add_parser("produce", help="publish a JSONL file of events to the requests topic")
    produce.add_argument("--events", required=True, help="JSONL file (.gz allowed)")
    produce.add_argument("--broker", help="Kafka URL (default: $SRE_BROKER)")
    produce.add_argument("--slos", help="SLO file, to key count events by their SLO's service")
    produce.add_argument("--batch", type=int, default=1,
                         help="pack up to N events of one key into a JSON array per message")
    produce.add_argument("--quiet", action="store_true", help="no progress")

    tail = commands.add_parser("tail", help="follow an output topic")
    tail.add_argument("topic", help="alerts, budgets, dead-letter, incidents, or a topic name")
    tail.add_argument("--broker", help="Kafka URL (default: $SRE_BROKER)")
    tail.add_argument("--json", action="store_true", help="print the messages as JSON lines")
    tail.add_argument("--new", action="store_true", help="only messages published from now on")
    tail.add_argument("--max", type=int, help="stop after this many messages")
    tail.add_argument("--timeout", help="stop after this long")

    from streams.cli import generate as traffic_cli
    from streams.cli import incidents as incidents_cli
    from streams.cli import tune as tune_cli

    traffic_cli.add_parser(cast("argparse._SubParsersAction[argparse.ArgumentParser]", commands))
    incidents_cli.add_parser(cast("argparse._SubParsersAction[argparse.ArgumentParser]", commands))
    incidents_cli.add_silences_parser(
        cast("argparse._SubParsersAction[argparse.ArgumentParser]", commands))
    tune_cli.add_parser(cast("argparse._SubParsersAction[argparse.ArgumentParser]", commands))
    return parser


def run(argv: Sequence[str], stdout: BinaryIO, stderr: TextIO) -> int:
    """Run one command; returns the exit code."""
    try:
        if argv and argv[0] == "worker":
            args, passthrough = build_parser().parse_known_args(argv)
            return _worker(args, passthrough, stderr)
        args = build_parser().parse_args(argv)
        if args.command == "demo":
            return _demo(args, stderr)
        if args.command == "produce":
            return _produce(args, stdout, stderr)
        if args.command == "tail":
            return _tail(args, stdout, stderr)
        if args.command == "backtest":
            return _backtest(args, stdout, stderr)
        if args.command == "slo":
            return _validate(args, stdout, stderr)
        if args.command == "incidents":
            from streams.cli import incidents as incidents_cli

            return incidents_cli.run(args, _settings, stdout, stderr)
        if args.command == "silences":
            from streams.cli import incidents as incidents_cli

            return incidents_cli.run_silences(args, _settings, stdout, stderr)
        if args.command == "generate":
            from streams.cli import generate as traffic_cli

            return traffic_cli.run(args, stdout, stderr)
        if args.command == "tune":
            from streams.cli import tune as tune_cli

            return tune_cli.run(args, _load_slos, stdout, stderr)
    except UsageError as exc:
        print(str(exc), file=stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("sre-streams: interrupted", file=stderr)
        return 130
    except SettingsError as exc:
        print(f"sre-streams: error: {exc}", file=stderr)
        return EXIT_USAGE
    raise AssertionError(f"unhandled command {args.command}")


def _load_slos(path: str | None, prog: str) -> SloFile:
    path = path or from_env("slos")
    if path is None:
        raise UsageError(f"{prog}: error: no SLO file: pass --slos FILE or set SRE_SLOS")
    try:
        return load_slo_file(path)
    except SloFileError as exc:
        details = "; ".join(exc.problems[:3])
        more = f" (and {len(exc.problems) - 3} more: run sre-streams slo validate {path})" \
            if len(exc.problems) > 3 else ""
        raise UsageError(f"{prog}: error: invalid SLO file {path}: {details}{more}") from None


def _validate(args: argparse.Namespace, stdout: BinaryIO, stderr: TextIO) -> int:
    try:
        slo_file = load_slo_file(args.file)
    except SloFileError as exc:
        if len(exc.problems) == 1:
            print(f"{args.file}: {exc.problems[0]}", file=stderr)
        else:
            print(f"{args.file}: {len(exc.problems)} problems", file=stderr)
            for problem in exc.problems:
                print(f"  {problem}", file=stderr)
        return EXIT_USAGE
    rules = sum(len(slo.policy.rules) for slo in slo_file.slos)
    stdout.write(f"{args.file}: OK, {len(slo_file.slos)} SLO(s), {rules} alert rule(s)\n".encode())
    for slo in slo_file.slos:
        grouped = f" by {','.join(slo.group_by)}" if slo.group_by else ""
        stdout.write(
            f"  {slo.name}: {slo.service} {slo.objective:.6g} over {slo.window_label}{grouped}, "
            f"policy {slo.policy.name}\n".encode())
    return EXIT_OK


def _backtest(args: argparse.Namespace, stdout: BinaryIO, stderr: TextIO) -> int:
    from streams.offline.backtest import run_backtest, summary

    prog = "sre-streams backtest"
    slo_file = _load_slos(args.slos, prog)
    try:
        settings = EngineSettings(
            eval_interval=duration_setting(args.eval_interval, "eval_interval", 10.0),
            lateness=_lateness(args.lateness),
            budget_interval=(duration_setting(args.budget_interval, "budget_interval", 60.0)
                             if args.budgets else None),
        )
    except (SettingsError, ValueError) as exc:
        raise UsageError(f"{prog}: error: {exc}") from None
    events = Path(args.events)
    if not events.is_file():
        raise UsageError(f"{prog}: error: cannot read events file {events}: "
                         f"{'no such file' if not events.exists() else 'not a file'}")
    with ExitStack() as stack:
        try:
            out = stack.enter_context(open(args.out, "wb")) if args.out else stdout
            budgets = stack.enter_context(open(args.budgets, "wb")) if args.budgets else None
            dead = (stack.enter_context(open(args.dead_letters, "wb"))
                    if args.dead_letters else None)
        except OSError as exc:
            raise UsageError(f"{prog}: error: cannot write {exc.filename}: {exc.strerror}") from None
        try:
            result = run_backtest(slo_file, events, out, settings=settings, budgets_out=budgets,
                                  dead_letters_out=dead, stderr=stderr, progress=not args.quiet)
        except PlanError as exc:
            raise UsageError(f"{prog}: error: {exc}") from None
        except (OSError, EOFError, zlib.error) as exc:  # a truncated or corrupt .gz too
            print(f"{prog}: error: reading {events}: {exc}", file=stderr)
            return EXIT_FAILURE
    if not args.quiet:
        print(summary(result, str(events)), file=stderr)
    return EXIT_OK


def _settings(overrides: dict[str, object], prog: str) -> Settings:
    try:
        return Settings.load(overrides)
    except SettingsError as exc:
        raise UsageError(f"{prog}: error: {exc}") from None


def _worker(args: argparse.Namespace, passthrough: list[str], stderr: TextIO) -> int:
    prog = "sre-streams worker"
    settings = _settings({"slos": args.slos, "broker": args.broker}, prog)
    _load_slos(settings.slos, prog)  # refuse to start on a bad file
    from streams.app import create_app

    app = create_app(settings)
    if not any(arg.startswith(("--with-web", "--web-port", "--without-web")) for arg in passthrough):
        passthrough = ["--without-web", *passthrough]  # no HTTP API yet: bind no port
    sys.argv = ["sre-streams", "worker", *passthrough]
    try:
        app.main()
    except SystemExit as exit_:
        return int(exit_.code or 0) if not isinstance(exit_.code, str) else EXIT_FAILURE
    return EXIT_OK


def _demo(args: argparse.Namespace, stderr: TextIO) -> int:
    from streams.demo.run import run_demo
    from streams.runtime.local_broker import BrokerError

    prog = "sre-streams demo"
    embedded = from_env("broker") is None
    settings = _settings({}, prog)
    try:
        duration = duration_setting(args.duration, "demo_duration", 0.0) if args.duration else None
    except SettingsError as exc:
        raise UsageError(f"{prog}: error: {exc}") from None
    try:
        return run_demo(settings, embedded=embedded, out=sys.stdout, duration=duration,
                        keep=args.keep_logs)
    except BrokerError as exc:
        print(f"{prog}: error: {exc}", file=stderr)
        return EXIT_FAILURE
    except (OSError, KafkaError) as exc:
        print(f"{prog}: error: {type(exc).__name__}: {exc}", file=stderr)
        return EXIT_FAILURE


def _produce(args: argparse.Namespace, stdout: BinaryIO, stderr: TextIO) -> int:
    import asyncio

    from streams.runtime.kafka_io import produce

    prog = "sre-streams produce"
    settings = _settings({"broker": args.broker, "slos": args.slos}, prog)
    slos = _load_slos(settings.slos, prog) if settings.slos else None
    events = Path(args.events)
    if not events.is_file():
        raise UsageError(f"{prog}: error: cannot read events file {events}")
    try:
        sent = asyncio.run(produce(settings, events, slos=slos, stderr=stderr,
                                   progress=not args.quiet, batch=args.batch))
    except (OSError, KafkaError) as exc:
        print(f"{prog}: error: {type(exc).__name__}: {exc} (broker {settings.broker})", file=stderr)
        return EXIT_FAILURE
    if not args.quiet:
        print(f"produce: {sent:,} messages to {settings.topics.requests}", file=stderr)
    return EXIT_OK


def _tail(args: argparse.Namespace, stdout: BinaryIO, stderr: TextIO) -> int:
    import asyncio

    import orjson

    from streams.runtime.kafka_io import render, tail, topic_name

    prog = "sre-streams tail"
    settings = _settings({"broker": args.broker}, prog)
    try:
        timeout = duration_setting(args.timeout, "tail_timeout", 0.0) if args.timeout else None
    except SettingsError as exc:
        raise UsageError(f"{prog}: error: {exc}") from None

    def emit(value: bytes) -> None:
        if args.json:
            stdout.write(value.rstrip(b"\n") + b"\n")
        else:
            try:
                stdout.write(render(orjson.loads(value)).encode() + b"\n")
            except orjson.JSONDecodeError:
                stdout.write(value + b"\n")
        stdout.flush()

    try:
        asyncio.run(tail(settings, topic_name(settings, args.topic), emit,
                         from_beginning=not args.new, limit=args.max, timeout=timeout))
    except (OSError, KafkaError) as exc:
        print(f"{prog}: error: {type(exc).__name__}: {exc} (broker {settings.broker})", file=stderr)
        return EXIT_FAILURE
    return EXIT_OK


def _lateness(flag: str | None) -> float:
    if flag is not None and flag.strip() in {"0", "0s"}:
        return 0.0
    return duration_setting(flag, "lateness", 5.0)


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point."""
    try:
        return run(sys.argv[1:] if argv is None else argv, sys.stdout.buffer, sys.stderr)
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
