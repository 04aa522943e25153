"""`sre-streams backtest`: replay a JSONL file of events and write the alerts it raises."""

from __future__ import annotations

import argparse
import zlib
from contextlib import ExitStack
from pathlib import Path
from typing import BinaryIO, TextIO

from streams.cli.usage import EXIT_FAILURE, EXIT_OK, SubParsers, UsageError, duration_flag, load_slos
from streams.domain.engine.counters import PlanError
from streams.domain.engine.evaluation import EngineSettings

PROG = "sre-streams backtest"


def add_parser(commands: SubParsers) -> None:
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


def run(args: argparse.Namespace, stdout: BinaryIO, stderr: TextIO) -> int:
    from streams.offline.backtest import run_backtest, summary

    slo_file = load_slos(args.slos, PROG)
    try:
        settings = EngineSettings(
            eval_interval=duration_flag(args.eval_interval, "eval_interval", 10.0, PROG),
            lateness=duration_flag(args.lateness, "lateness", 5.0, PROG, zero=True),
            budget_interval=(duration_flag(args.budget_interval, "budget_interval", 60.0, PROG)
                             if args.budgets else None),
        )
    except ValueError as exc:
        raise UsageError(f"{PROG}: error: {exc}") from None
    events = Path(args.events)
    if not events.is_file():
        raise UsageError(f"{PROG}: error: cannot read events file {events}: "
                         f"{'no such file' if not events.exists() else 'not a file'}")
    with ExitStack() as stack:
        try:
            out = stack.enter_context(open(args.out, "wb")) if args.out else stdout
            budgets = stack.enter_context(open(args.budgets, "wb")) if args.budgets else None
            dead = (stack.enter_context(open(args.dead_letters, "wb"))
                    if args.dead_letters else None)
        except OSError as exc:
            raise UsageError(f"{PROG}: error: cannot write {exc.filename}: {exc.strerror}") from None
        try:
            result = run_backtest(slo_file, events, out, settings=settings, budgets_out=budgets,
                                  dead_letters_out=dead, stderr=stderr, progress=not args.quiet)
        except PlanError as exc:
            raise UsageError(f"{PROG}: error: {exc}") from None
        except (OSError, EOFError, zlib.error) as exc:  # a truncated or corrupt .gz too
            print(f"{PROG}: error: reading {events}: {exc}", file=stderr)
            return EXIT_FAILURE
    if not args.quiet:
        print(summary(result, str(events)), file=stderr)
    return EXIT_OK
