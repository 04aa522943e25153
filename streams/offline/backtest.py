"""`sre-streams backtest`: replay a JSONL file through the engine the live worker uses."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, TextIO

from streams.domain.engine.evaluation import Engine, EngineSettings, EngineStats
from streams.domain.slo.model import SloFile
from streams.domain.timestamps import format_ts
from streams.offline.replay import BadLine, replay
from streams.wire.codec import encode
from streams.wire.dead_letter import dead_letter


@dataclass(frozen=True, slots=True)
class FiringRule:
    """A rule of a series still firing when the replay ended."""

    slo: str
    series: Mapping[str, str]
    rule: str


@dataclass
class BacktestResult:
    stats: EngineStats
    lines: int = 0
    alerts: int = 0
    budgets: int = 0
    seconds: float = 0.0
    first_ts: float | None = None
    last_ts: float | None = None
    still_firing: list[FiringRule] = field(default_factory=list)
    series: int = 0
    bad_lines: Counter[str] = field(default_factory=Counter)


def run_backtest(
    slo_file: SloFile,
    events_path: str | Path,
    alerts_out: BinaryIO,
    *,
    settings: EngineSettings | None = None,
    budgets_out: BinaryIO | None = None,
    dead_letters_out: BinaryIO | None = None,
    stderr: TextIO,
    progress: bool = True,
) -> BacktestResult:
    """Replay every event of a file; write alerts (and budgets) as JSONL."""
    engine = Engine(slo_file, settings or EngineSettings(
        budget_interval=60.0 if budgets_out is not None else None))
    result = BacktestResult(stats=engine.stats)
    source = str(events_path)

    def flush() -> None:
        alerts, budgets = engine.drain()
        for alert in alerts:
            alerts_out.write(encode(alert) + b"\n")
        result.alerts += len(alerts)
        if budgets_out is not None:
            for snapshot in budgets:
                budgets_out.write(encode(snapshot) + b"\n")
            result.budgets += len(budgets)

    def dead(line: BadLine) -> None:
        assert dead_letters_out is not None
        # A file's line is a message of partition -1 at offset = its number.
        record = dead_letter(line.reason, source, -1, line.number, line.payload)
        dead_letters_out.write(encode(record) + b"\n")

    replayed = replay(events_path, [engine], flush, stderr=stderr, progress=progress,
                      label="backtest", on_bad_line=None if dead_letters_out is None else dead)
    result.lines = replayed.lines
    result.seconds = replayed.seconds
    result.bad_lines = replayed.bad_lines
    result.series = len(engine.series)
    result.first_ts, result.last_ts = engine.time_range
    at = engine.last_instant
    result.still_firing = [
        FiringRule(series.slo.name, series.labels, spec.rule.name)
        for series in engine.series
        for spec, since in zip(series.runtime.rules, series.started, strict=True)
        if since is not None
    ] if at is not None else []
    return result


def summary(result: BacktestResult, source: str) -> str:
    """The human summary printed on stderr after a backtest."""
    stats = result.stats
    rate = stats.events / result.seconds if result.seconds > 0 else 0.0
    dead = sum(stats.dead_letters.values())
    lines = [
        f"backtest: {stats.events:,} events from {source} in {result.seconds:.1f} s "
        f"({rate:,.0f} events/s)",
        f"  counted {stats.events - dead - stats.unmatched:,} (late {stats.late:,}), "
        f"no SLO {stats.unmatched:,}, dead-lettered {dead:,}",
    ]
    for reason, count in stats.dead_letters.most_common():
        lines.append(f"    {count:>10,}  {reason}")
    if result.first_ts is not None and result.last_ts is not None:
        lines.append(f"  event time {format_ts(result.first_ts)} .. {format_ts(result.last_ts)}, "
                     f"{stats.evaluations:,} evaluation instants")
    lines.append(f"  series {result.series:,}; alerts {result.alerts:,} "
                 f"({sum(stats.firing.values()):,} firing, {sum(stats.resolved.values()):,} resolved)")
    for rule in sorted(set(stats.firing) | set(stats.resolved)):
        lines.append(f"    {rule:<16} {stats.firing[rule]:>6,} firing {stats.resolved[rule]:>6,} resolved")
    if result.budgets:
        lines.append(f"  budget snapshots {result.budgets:,}")
    if result.still_firing:
        lines.append(f"  still firing at the end: {len(result.still_firing)}")
        for item in result.still_firing[:10]:
            series = ",".join(f"{k}={v}" for k, v in item.series.items())
            lines.append(f"    {item.slo} {{{series}}} {item.rule}")
    return "\n".join(lines)
