"""One pass over an events file into one or more engines: the loop of backtest and tune.

Each block of the file is decoded once and handed to every engine in file order, so each
engine sees exactly what the live worker would feed it; memory stays bounded by the block
whatever the file's size.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from streams.domain.engine.evaluation import Engine
from streams.offline.columnar import FieldSchema, deferred_batch
from streams.offline.decoding import decode_batch
from streams.offline.jsonl import EventFile
from streams.offline.progress import Progress

_REPORTED_BAD_LINES = 10


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line refused whole, or one event of it the engine refused."""

    number: int
    reason: str
    payload: bytes  # the line, or the event's JSON if it shared its line


@dataclass
class ReplayStats:
    seconds: float = 0.0
    lines: int = 0  # lines read
    bad_lines: Counter[str] = field(default_factory=Counter)  # by reason


def replay(path: str | Path, engines: Sequence[Engine], take_output: Callable[[], None], *,
           stderr: TextIO, progress: bool, label: str,
           on_bad_line: Callable[[BadLine], None] | None = None) -> ReplayStats:
    """Feed every event to every engine; `take_output` drains them after each block.

    The first engine is the reference: its rejections are the bad lines (the first few
    printed on `stderr`, each passed to `on_bad_line`), and its statistics count the lines
    that held no event.
    """
    reference = engines[0]
    stats = ReplayStats()
    source = str(path)
    schema = FieldSchema([slo for engine in engines for slo in engine.slos])
    with EventFile(path) as events:
        meter = Progress(events.size, stderr, label=label, enabled=progress)
        try:
            for first, lines in events.blocks():
                stats.lines = first + len(lines) - 1
                fields = schema.decode(lines)
                block = (decode_batch(lines, skip_blank=True) if fields is None
                         else deferred_batch(lines, fields))
                for refusal in block.refusals.values():
                    reference.reject(refusal.statistic)
                bad = [BadLine(first + i, refusal.reason, lines[i])
                       for i, refusal in block.refusals.items()]
                bad += [BadLine(first + block.message_of(event), reason, block.payload_of(event))
                        for event, reason in reference.ingest_batch(block.events, fields=fields)]
                for engine in engines[1:]:
                    engine.ingest_batch(block.events, fields=fields)
                for line in sorted(bad, key=lambda line: line.number):
                    stats.bad_lines[line.reason] += 1
                    if sum(stats.bad_lines.values()) <= _REPORTED_BAD_LINES:
                        print(f"{source}:{line.number}: {line.reason}", file=stderr)
                    if on_bad_line is not None:
                        on_bad_line(line)
                take_output()
                meter.update(events.position, reference.stats.events)
            for engine in engines:
                engine.finish()
            take_output()
        finally:
            meter.close()
    stats.seconds = meter.elapsed
    return stats

