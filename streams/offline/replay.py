"""One pass over an events file into several engines, one per distinct candidate policy.

Each block of the file is decoded once and handed to every engine in file order, so each
engine sees exactly what `sre-streams backtest` would feed it; memory stays bounded by the
block whatever the file's size. Bad lines are reported like backtest reports them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from streams.domain.engine.evaluation import Engine
from streams.offline.jsonl import EventFile, decode_block
from streams.offline.progress import Progress

_REPORTED_BAD_LINES = 10


@dataclass
class ReplayStats:
    seconds: float = 0.0
    bad_lines: Counter[str] = field(default_factory=Counter)


def replay(path: str | Path, engines: Sequence[Engine], take_output: Callable[[], None], *,
           stderr: TextIO, progress: bool) -> ReplayStats:
    """Feed every event to every engine; `take_output` drains them after each block.

    The first engine is the reference: its rejections are the ones reported, and its
    statistics count the lines that held no event.
    """
    reference = engines[0]
    stats = ReplayStats()
    source = str(path)

    def report(number: int, reason: str) -> None:
        stats.bad_lines[reason.split(":")[0]] += 1
        if sum(stats.bad_lines.values()) <= _REPORTED_BAD_LINES:
            print(f"{source}:{number}: {reason}", file=stderr)

    with EventFile(path) as events:
        meter = Progress(events.size, stderr, label="tune", enabled=progress)
        try:
            for first, lines in events.blocks():
                block = decode_block(first, lines)
                refused = [(number, reason) for number, reason, _ in block.refused]
                for _, reason in refused:
                    reference.reject(reason.split(":")[0])
                rejected = [(block.lines[i], reason)
                            for i, reason in reference.ingest_batch(block.events)]
                for engine in engines[1:]:
                    engine.ingest_batch(block.events)
                for number, reason in sorted(refused + rejected):
                    report(number, reason)
                take_output()
                meter.update(events.position, reference.stats.events)
            for engine in engines:
                engine.finish()
            take_output()
        finally:
            meter.close()
    stats.seconds = meter.elapsed
    return stats

