"""`sre-streams capacity`: demand forecasts and runway to usable capacity, from an events file."""

from __future__ import annotations

import argparse
import re
import zlib
from pathlib import Path
from typing import BinaryIO, TextIO

import numpy as np

from streams.cli.usage import EXIT_FAILURE, EXIT_OK, SubParsers, UsageError, duration_flag, load_slos
from streams.domain.capacity.runway import Assessment
from streams.domain.timestamps import TimestampError, format_ts, parse_ts

PROG = "sre-streams capacity"


def add_parser(commands: SubParsers) -> None:
    capacity = commands.add_parser(
        "capacity", help="forecast demand and the runway to usable capacity from an events file",
        description="Read request, count and resource events (JSONL, .gz allowed) into an "
                    "hourly demand history per service of the SLO file's capacity section, "
                    "forecast it (trend, daily and weekly seasonality, launches) and report "
                    "the runway to usable capacity, most urgent first. A table on stdout, or "
                    "JSON with --json, or a report file with --report.")
    capacity.add_argument("--slos", help="SLO file with a capacity section (default: $SRE_SLOS)")
    capacity.add_argument("--events", required=True, help="JSONL file of events (.gz allowed)")
    capacity.add_argument("--at", help="forecast as of this time (RFC 3339 or epoch seconds; "
                                       "default: the last event's, rounded up to the hour)")
    capacity.add_argument("--json", action="store_true", help="the report as JSON on stdout")
    capacity.add_argument("--report", help="write a report: FILE.md (charts as SVG beside it) "
                                           "or FILE.html (charts inline)")
    capacity.add_argument("--lateness", help="allowed lateness (default 5s; $SRE_LATENESS)")


def run(args: argparse.Namespace, stdout: BinaryIO, stderr: TextIO) -> int:
    from streams.domain.capacity.messages import capacity_report
    from streams.offline.capacity import run_capacity
    from streams.wire.codec import encode

    slo_file = load_slos(args.slos, PROG)
    if not slo_file.capacity:
        raise UsageError(f"{PROG}: error: the SLO file has no capacity section: nothing to plan")
    at = None
    if args.at is not None:
        try:
            at = parse_ts(float(args.at) if re.fullmatch(r"[0-9.]+", args.at) else args.at)
        except (TimestampError, ValueError) as exc:
            raise UsageError(f"{PROG}: error: --at: {exc}") from None
    if args.report and not args.report.lower().endswith((".md", ".html")):
        raise UsageError(f"{PROG}: error: --report must name a .md or .html file, got {args.report}")
    lateness = duration_flag(args.lateness, "lateness", 5.0, PROG, zero=True)
    events = Path(args.events)
    if not events.is_file():
        raise UsageError(f"{PROG}: error: cannot read events file {events}: "
                         f"{'no such file' if not events.exists() else 'not a file'}")
    try:
        result = run_capacity(slo_file, events, at=at, lateness=lateness, stderr=stderr)
    except (OSError, EOFError, zlib.error) as exc:
        print(f"{PROG}: error: reading {events}: {exc}", file=stderr)
        return EXIT_FAILURE
    if args.report:
        try:
            _write_report(Path(args.report), result.at, result.assessments, args.slos or "",
                          str(events), result.events)
        except OSError as exc:
            raise UsageError(f"{PROG}: error: cannot write {exc.filename}: {exc.strerror}") from None
    if args.json:
        stdout.write(encode(capacity_report(result.at, result.assessments)) + b"\n")
    elif not args.report:
        stdout.write(_table(result.at, result.assessments).encode())
    bad = sum(result.bad_lines.values())
    print(f"{PROG}: {result.events:,} events read as of {format_ts(result.at)}"
          + (f", {bad:,} refused" if bad else "") + (f", {result.late:,} late" if result.late else "")
          + (f", {result.after_at:,} after --at left out" if result.after_at else "")
          + (f"; report written to {args.report}" if args.report else ""), file=stderr)
    return EXIT_OK


def _write_report(path: Path, at: float, assessments: list[Assessment], slos: str, events: str,
                  read: int) -> None:
    from streams.offline.capacity_report import (
        ReportInputs,
        capacity_chart,
        html_report,
        markdown_report,
    )
    from streams.tune.reports.svg import to_svg

    inputs = ReportInputs(slos, events, read)
    if path.suffix.lower() == ".html":
        path.write_text(html_report(at, assessments, inputs), encoding="utf-8")
        return
    images: list[str | None] = []
    for index, assessment in enumerate(assessments):
        if not np.isfinite(assessment.history).any():
            images.append(None)
            continue
        name = re.sub(r"[^a-z0-9-]+", "-", f"{assessment.plan.service}-"
                      f"{assessment.plan.resource or 'demand'}".lower())
        image = path.with_name(f"{path.stem}-{index + 1}-{name}.svg")
        image.write_text(to_svg(capacity_chart(assessment)) + "\n", encoding="utf-8")
        images.append(image.name)
    path.write_text(markdown_report(at, assessments, inputs, images), encoding="utf-8")


def _table(at: float, assessments: list[Assessment]) -> str:
    from streams.offline.capacity_report import name_of

    lines = [f"capacity at {format_ts(at)} (most urgent first)",
             f"{'service':<24} {'status':<9} {'usable':>10} {'peak now':>10} "
             f"{'runway p50':>11} {'runway p90':>11} {'lead':>6}"]
    for a in assessments:
        def days(value: float | None) -> str:
            return "-" if value is None else f"{value:.1f}d"
        lines.append(
            f"{name_of(a):<24} {a.status.value:<9} "
            f"{'-' if a.usable_capacity is None else f'{a.usable_capacity:,.0f}':>10} "
            f"{'-' if a.peak_now is None else f'{a.peak_now:,.1f}':>10} "
            f"{days(a.runway_days.p50):>11} {days(a.runway_days.p90):>11} "
            f"{a.plan.lead_time / 86400:>5g}d")
        lines += [f"    warning: {warning}" for warning in a.warnings]
    return "\n".join(lines) + "\n"
