"""`sre-streams tune`: backtest candidate alert policies against labelled incidents, and score them."""

from __future__ import annotations

import argparse
import asyncio
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, TextIO

import orjson
from aiokafka.errors import KafkaError

from streams.domain.engine.counters import PlanError
from streams.domain.engine.evaluation import EngineSettings
from streams.domain.incidents.noise import row_key
from streams.domain.slo.model import SloFile
from streams.runtime.settings import Settings, SettingsError, duration_setting, from_env
from streams.runtime.state.changelog import read_after
from streams.tune.catalog import candidates, select
from streams.tune.incidents import SeriesLabels, load_incidents
from streams.tune.reports.chart import timeline_chart
from streams.tune.reports.document import Inputs, report_document
from streams.tune.reports.html import html_report
from streams.tune.reports.markdown import markdown_report
from streams.tune.reports.svg import to_svg
from streams.tune.tuning import TuneError, TuneResult, tune
from streams.wire.alerts import AlertStats, decode_alert_stats
from streams.wire.codec import encode

PROG = "sre-streams tune"
_MARKDOWN, _HTML = (".md", ".markdown"), (".html", ".htm")

LoadSlos = Callable[[str | None, str], SloFile]


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "tune", help="backtest alert policies against labelled incidents and score them",
        description="Replay the events once per candidate policy (the SLO file's and the SRE "
                    "Workbook's strategies) through the engine of backtest; score precision, "
                    "recall, detection and reset time against labelled incidents, and recommend "
                    "one. The report goes to stdout as Markdown (or JSON with --json), or to "
                    "--report; progress and a summary to stderr.")
    parser.add_argument("--slos", help="SLO file (default: $SRE_SLOS)")
    parser.add_argument("--events", help="JSONL file of events (.gz allowed)")
    parser.add_argument("--live", action="store_true",
                        help="instead of a backtest: the live noise statistics of every rule and "
                             "series, from the alert-stats topic ($SRE_BROKER)")
    parser.add_argument("--broker", help="Kafka URL for --live (default: $SRE_BROKER)")
    parser.add_argument("--incidents",
                        help='JSONL file of labelled incidents: {"slo", "series"?, "start", "end"}')
    parser.add_argument("--policy", action="extend", nargs="+", metavar="NAME", default=[],
                        help="score only these candidates (repeatable; default: all)")
    parser.add_argument("--report", metavar="FILE.md|FILE.html",
                        help="write the report here: Markdown with SVG charts beside it, or HTML")
    parser.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    parser.add_argument("--warm-up", help="time before scoring starts (default: the longest window "
                                          "of any candidate, at most half the data)")
    parser.add_argument("--lateness", help="allowed lateness (default 5s; $SRE_LATENESS)")
    parser.add_argument("--eval-interval", help="evaluation interval (default 10s)")
    parser.add_argument("--quiet", action="store_true", help="no progress and no summary")


def run(args: argparse.Namespace, load_slos: LoadSlos, stdout: BinaryIO, stderr: TextIO) -> int:
    """Run `tune`; bad usage or a bad input file is one line on stderr and exit code 2."""
    if args.live:
        return _live(args, stdout, stderr)
    if not args.events:
        print(f"{PROG}: error: --events is required (or --live)", file=stderr)
        return 2
    slo_file = load_slos(args.slos, PROG)
    try:
        settings = EngineSettings(
            eval_interval=duration_setting(args.eval_interval, "eval_interval", 10.0),
            lateness=duration_setting(args.lateness, "lateness", 5.0, zero=True),
            budget_interval=None,
        )
        warm_up = None if args.warm_up is None else duration_setting(args.warm_up, "warm_up", 0.0,
                                                                    zero=True)
        _check_report(args.report)
        events = _readable(args.events)
        incidents = load_incidents(args.incidents, slo_file) if args.incidents else []
        catalog = candidates(slo_file, settings.eval_interval)
        chosen = select(catalog, args.policy)
    except ValueError as exc:  # SettingsError, IncidentFileError and unknown policies included
        return _usage(exc, stderr)
    try:
        result = tune(slo_file, events, incidents, chosen, settings=settings, stderr=stderr,
                      warm_up=warm_up, progress=not args.quiet, catalog=catalog)
    except (PlanError, TuneError) as exc:
        return _usage(exc, stderr)
    except (OSError, EOFError, zlib.error) as exc:  # a truncated or corrupt .gz too
        print(f"{PROG}: error: reading {events}: {exc}", file=stderr)
        return 1
    inputs = Inputs(args.slos or from_env("slos") or "", str(events), args.incidents)
    try:
        if args.report:
            _write_report(Path(args.report), result, inputs)
    except OSError as exc:
        return _usage(f"cannot write {exc.filename}: {exc.strerror}", stderr)
    if args.json:
        stdout.write(orjson.dumps(report_document(result, inputs), option=orjson.OPT_INDENT_2) + b"\n")
    elif not args.report:
        stdout.write(markdown_report(result, inputs).encode())
    stdout.flush()
    if not args.quiet:
        print(summary(result, args.report), file=stderr)
    return 0


def summary(result: TuneResult, report: str | None) -> str:
    """The closing lines on stderr: what ran, the recommendation per SLO, where the report is."""
    lines = [*(f"{PROG}: warning: {warning}" for warning in result.warnings),
             f"tune: {result.stats.events:,} events in {result.replay.seconds:.1f} s, "
             f"{len(result.candidates)} candidate policies on {result.engines} engine(s)"]
    bad = sum(result.replay.bad_lines.values())
    if bad:
        lines.append(f"  {bad:,} bad event(s) left out (the first are listed above)")
    for slo in result.slos:
        chosen = slo.recommendation.policy
        lines.append(f"  {slo.slo.name}: " + (f"recommended {chosen}" if chosen
                                               else slo.recommendation.reasoning[0]))
    if report:
        lines.append(f"  report written to {report}")
    return "\n".join(lines)


def _write_report(path: Path, result: TuneResult, inputs: Inputs) -> None:
    if path.suffix.lower() in _HTML:
        path.write_text(html_report(result, inputs), encoding="utf-8")
        return
    images: dict[tuple[str, SeriesLabels], str] = {}
    for slo in result.slos:
        charted = slo.charted_series()
        for number, series in enumerate(charted, start=1):
            suffix = f"-{number}" if len(charted) > 1 else ""
            image = path.with_name(f"{path.stem}-{slo.slo.name}{suffix}.svg")
            image.write_text(to_svg(timeline_chart(slo, series, result.data)) + "\n",
                             encoding="utf-8")
            images[(slo.slo.name, series)] = image.name
    path.write_text(markdown_report(result, inputs, images), encoding="utf-8")


def _live(args: argparse.Namespace, stdout: BinaryIO, stderr: TextIO) -> int:
    """The latest noise statistics of every rule and series, noisiest first."""
    try:
        settings = Settings.load({"broker": args.broker})
        values = asyncio.run(read_after(settings, settings.topics.alert_stats, {}, quiet_ms=500))
    except SettingsError as exc:
        return _usage(exc, stderr)
    except (OSError, KafkaError) as exc:
        print(f"{PROG}: error: {type(exc).__name__}: {exc} (broker {args.broker or 'from settings'})",
              file=stderr)
        return 1
    latest: dict[str, AlertStats] = {}
    for value in values:
        stats = decode_alert_stats(value)
        latest[row_key(stats)] = stats
    rows = sorted(latest.values(), key=lambda r: (-r.firings_per_day, -r.flaps, r.slo))
    if args.json:
        stdout.write(b"".join(encode(r) + b"\n" for r in rows))
        return 0
    def share(value: float | None) -> str:
        return "-" if value is None else f"{100 * value:.0f}%"

    lines = ["| slo | series | rule | firings/day | median firing | flaps | acknowledged | "
             "resolved unacknowledged <10m |", "|---|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        series = ",".join(f"{k}={v}" for k, v in r.series.items()) or "-"
        median = r.median_firing_seconds
        lines.append(f"| {r.slo} | {series} | {r.rule} | {r.firings_per_day:.2f} | "
                     f"{'-' if median is None else f'{median / 60:.1f} min'} | {r.flaps} | "
                     f"{share(r.acknowledged_share)} | {share(r.quietly_resolved_share)} |")
    if not rows:
        lines = ["no alert statistics yet (the worker publishes them as alerts fire and resolve)"]
    stdout.write(("\n".join(lines) + "\n").encode())
    return 0


def _check_report(report: str | None) -> None:
    if report is not None and not report.lower().endswith(_MARKDOWN + _HTML):
        raise ValueError(f"--report must name a .md or .html file, got {report}")


def _readable(name: str) -> Path:
    path = Path(name)
    if not path.is_file():
        raise ValueError(f"cannot read events file {path}: "
                         f"{'no such file' if not path.exists() else 'not a file'}")
    return path


def _usage(problem: object, stderr: TextIO) -> int:
    print(f"{PROG}: error: {problem}", file=stderr)
    return 2
