"""The ``generate`` subcommand: write synthetic request events as JSONL."""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import math
from collections.abc import Iterable, Iterator, Mapping
from itertools import islice
from typing import BinaryIO, TextIO

from streams.domain.timestamps import TimestampError, format_ts, parse_ts
from streams.synthetic.demand import generate_counts
from streams.synthetic.traffic import (
    DEFAULT_REGIONS,
    DEFAULT_SERVICES,
    PRESET_NAMES,
    Scenario,
    encode_jsonl,
    generate,
    parse_incident,
    preset,
    seconds,
)

PROG = "sre-streams generate"
DEFAULT_START = "2026-11-23T00:00:00Z"
# Lines joined per write: per-line writes cost most with gzip, which
# compresses each write() call separately.
_WRITE_LINES = 256
# zlib's default: half the time of gzip's usual 9, for ~15% more bytes.
_GZIP_LEVEL = 6


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add the ``generate`` subcommand to the main CLI's subparsers."""
    parser = subparsers.add_parser(
        "generate",
        help="write synthetic request events (JSONL) for tests, demos and benchmarks",
        description="Write synthetic request events as JSON lines, with injected incidents.",
    )
    # Values are parsed in run(), not by argparse types, so that a bad value is
    # reported as one line and exit code 2 whether or not argparse is in charge.
    parser.add_argument("--scenario", choices=PRESET_NAMES, default="outage", help="preset (default: outage)")
    parser.add_argument(
        "--start",
        default=DEFAULT_START,
        help=f"RFC 3339 or epoch seconds (default {DEFAULT_START})",
    )
    parser.add_argument("--duration", default="6h", help="scenario length, e.g. 90m (default 6h)")
    parser.add_argument("--rate", default="50", help="mean events per second (default 50)")
    parser.add_argument("--services", help="comma-separated (default checkout,search,catalog)")
    parser.add_argument("--regions", help="comma-separated (default eu,us)")
    parser.add_argument("--error-rate", help="base fraction of failed (5xx) requests")
    parser.add_argument("--seasonality", help="daily rate amplitude in [0, 1]")
    parser.add_argument("--weekly", help="weekly rate amplitude in [0, 1] (highest Friday 18:00 UTC)")
    parser.add_argument("--growth", help="linear growth of the rate per day, e.g. 2%%/d (of --rate)")
    parser.add_argument("--as", dest="output", choices=("requests", "counts"), default="requests",
                        help="requests: one event per request (default); counts: one count "
                             "event per minute per service, so weeks stay small")
    parser.add_argument("--count-slo", default="{service}-availability",
                        help="SLO a count event names; {service} is replaced "
                             "(default {service}-availability)")
    parser.add_argument(
        "--incident",
        action="append",
        default=[],
        metavar="SPEC",
        help="add an incident, KIND@START+DURATION[,service=S][,region=R][,error_rate=F]"
        "[,latency_factor=F], e.g. outage@2h+15m,service=checkout (repeatable)",
    )
    parser.add_argument(
        "--no-preset-incidents",
        action="store_true",
        help="drop the preset's own incidents (keep --incident ones)",
    )
    parser.add_argument("--seed", default="1", help="random seed (default 1)")
    parser.add_argument("--batch", default="1", help="events per JSON line (default 1)")
    parser.add_argument("--out", help="output file (default stdout); a .gz suffix compresses")
    parser.add_argument("--quiet", action="store_true", help="no summary on stderr")
    return parser


def run(args: argparse.Namespace, stdout: BinaryIO, stderr: TextIO) -> int:
    """Write the events the arguments describe; return the exit code."""
    try:
        scenario = scenario_from_args(args)
        batch = _integer(args.batch, "--batch", minimum=1)
    except ValueError as exc:
        print(f"{PROG}: error: {exc}", file=stderr)
        return 2
    tally = _Tally()
    events: Iterable[Mapping[str, object]] = (
        generate_counts(scenario, args.count_slo) if args.output == "counts"
        else generate(scenario))
    lines = encode_jsonl(tally.count(events), batch)
    try:
        if args.out is None:
            _write(lines, stdout)
            stdout.flush()
        elif args.out.endswith(".gz"):
            with gzip.open(args.out, "wb", compresslevel=_GZIP_LEVEL) as out:
                _write(lines, out)
        else:
            with open(args.out, "wb") as out:
                _write(lines, out)
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): that is how pipes stop, not a failure.
        return 0
    except OSError as exc:
        print(f"{PROG}: error: cannot write {args.out or 'stdout'}: {exc}", file=stderr)
        return 1
    if not args.quiet:
        span = (
            f"{format_ts(tally.first)} .. {format_ts(tally.last)}"
            if tally.first is not None and tally.last is not None
            else "no events"
        )
        print(
            f"{PROG}: wrote {tally.events:,} events ({span}) to {args.out or 'stdout'}",
            file=stderr,
        )
    return 0


def scenario_from_args(args: argparse.Namespace) -> Scenario:
    """Build the scenario: the preset, then the options that override it."""
    scenario = preset(
        args.scenario,
        start=_start(args.start),
        duration=seconds(args.duration, "--duration"),
        rate=_number(args.rate, "--rate"),
        seed=_integer(args.seed, "--seed", minimum=0),
        services=_names(args.services, "--services") or DEFAULT_SERVICES,
        regions=_names(args.regions, "--regions") or DEFAULT_REGIONS,
    )
    kept = () if args.no_preset_incidents else scenario.incidents
    # replace() re-runs validation, so an --incident on an unknown service or
    # past the end is reported like any other bad value.
    return dataclasses.replace(
        scenario,
        base_error_rate=(
            scenario.base_error_rate if args.error_rate is None else _number(args.error_rate, "--error-rate")
        ),
        seasonality=(
            scenario.seasonality if args.seasonality is None else _number(args.seasonality, "--seasonality")
        ),
        incidents=kept + tuple(parse_incident(spec) for spec in args.incident),
        growth=0.0 if args.growth is None else growth_per_day(args.growth),
        weekly=0.0 if args.weekly is None else _number(args.weekly, "--weekly"),
    )


def growth_per_day(text: str) -> float:
    """`2%/d`, `2%`, `0.02/d` or `0.02`: a fraction of the base rate added each day."""
    body = text.strip().removesuffix("/d").strip()
    percent = body.endswith("%")
    try:
        value = float(body.removesuffix("%"))
    except ValueError:
        raise ValueError(f"--growth must be a rate per day such as 2%/d or 0.02/d, got {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"--growth must be finite, got {text!r}")
    return value / 100 if percent else value


class _Tally:
    """Counts events and keeps the first and last timestamps as they stream past."""

    def __init__(self) -> None:
        self.events = 0
        self.first: float | None = None
        self.last: float | None = None

    def count(self, events: Iterable[Mapping[str, object]]) -> Iterator[Mapping[str, object]]:
        for event in events:
            ts = event["ts"]
            assert isinstance(ts, float | int)
            if self.first is None:
                self.first = ts
            self.last = ts
            self.events += 1
            yield event


def _write(lines: Iterable[bytes], out: BinaryIO | gzip.GzipFile) -> None:
    it = iter(lines)
    while group := list(islice(it, _WRITE_LINES)):
        out.write(b"".join(group))


def _start(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return parse_ts(text)
    except TimestampError:
        raise ValueError(
            f"--start must be RFC 3339 (e.g. {DEFAULT_START}) or epoch seconds, got {text!r}"
        ) from None


def _number(text: str, option: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{option} must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{option} must be finite, got {text!r}")
    return value


def _integer(text: str, option: str, *, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{option} must be an integer, got {text!r}") from None
    if value < minimum:
        raise ValueError(f"{option} must be >= {minimum}, got {value}")
    return value


def _names(text: str | None, option: str) -> tuple[str, ...] | None:
    if text is None:
        return None
    names = tuple(name.strip() for name in text.split(","))
    if not all(names):
        raise ValueError(f"{option} must be comma-separated non-empty names, got {text!r}")
    return names
