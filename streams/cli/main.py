"""The `sre-streams` command: a table of subcommands. `main` is a thin wrapper over `run`."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import BinaryIO, TextIO, cast

from streams import __version__
from streams.cli import (
    backtest,
    capacity,
    demo,
    generate,
    incidents,
    produce,
    slo,
    tail,
    toil,
    tune,
    worker,
)
from streams.cli.usage import EXIT_OK, EXIT_USAGE, Parser, SubParsers, UsageError, load_slos, settings_for
from streams.runtime.settings import SettingsError

Run = Callable[[argparse.Namespace, BinaryIO, TextIO], int]


@dataclass(frozen=True, slots=True)
class Command:
    """A subcommand: how its parser is added and how it runs."""

    name: str
    add_parser: Callable[[SubParsers], object]
    run: Run
    passthrough: bool = False  # unknown options are its own (Faust's worker options)


COMMANDS: tuple[Command, ...] = (
    Command("backtest", backtest.add_parser, backtest.run),
    Command("slo", slo.add_parser, slo.run),
    Command("worker", worker.add_parser, worker.run, passthrough=True),
    Command("demo", demo.add_parser, demo.run),
    Command("produce", produce.add_parser, produce.run),
    Command("tail", tail.add_parser, tail.run),
    Command("generate", generate.add_parser, generate.run),
    Command("incidents", incidents.add_parser,
            lambda args, stdout, stderr: incidents.run(args, settings_for, stdout, stderr)),
    Command("silences", incidents.add_silences_parser,
            lambda args, stdout, stderr: incidents.run_silences(args, settings_for, stdout, stderr)),
    Command("tune", tune.add_parser,
            lambda args, stdout, stderr: tune.run(args, load_slos, stdout, stderr)),
    Command("toil", toil.add_parser, toil.run),
    Command("capacity", capacity.add_parser, capacity.run),
)
_BY_NAME = {command.name: command for command in COMMANDS}


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="sre-streams",
        description="Event-time SLOs, error budgets and multiwindow burn-rate alerts on Kafka.",
    )
    parser.add_argument("--version", action="version", version=f"sre-streams {__version__}")
    commands = cast(SubParsers, parser.add_subparsers(dest="command", metavar="COMMAND",
                                                      parser_class=Parser))
    commands.required = True
    for command in COMMANDS:
        command.add_parser(commands)
    return parser


def run(argv: Sequence[str], stdout: BinaryIO, stderr: TextIO) -> int:
    """Run one command; returns the exit code."""
    try:
        chosen = _BY_NAME.get(argv[0]) if argv else None
        if chosen is not None and chosen.passthrough:
            args, passthrough = build_parser().parse_known_args(argv)
            args.passthrough = passthrough
        else:
            args = build_parser().parse_args(argv)
        return _BY_NAME[args.command].run(args, stdout, stderr)
    except UsageError as exc:
        print(str(exc), file=stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("sre-streams: interrupted", file=stderr)
        return 130
    except SettingsError as exc:
        print(f"sre-streams: error: {exc}", file=stderr)
        return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point."""
    # The Kafka client logs each failed connection attempt; a command says what failed in its
    # own one line (the worker's logging is Faust's, set up when it starts).
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        return run(sys.argv[1:] if argv is None else argv, sys.stdout.buffer, sys.stderr)
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
