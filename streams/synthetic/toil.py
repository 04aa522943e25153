"""A toil ledger with known truth: teams doing tasks of known frequency and length, with
project and overhead work mixed in, for tests, benchmarks and the demo."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from streams.domain.timestamps import format_ts

WEEK = 7 * 86400.0


@dataclass(frozen=True, slots=True)
class RecurringTask:
    team: str
    task: str
    per_week: float  # occurrences per week, spread evenly with jitter
    minutes: float  # each occurrence, exactly
    kind: str = "toil"

    def minutes_in(self, weeks: float) -> float:
        return self.occurrences(weeks) * self.minutes

    def occurrences(self, weeks: float) -> int:
        return round(self.per_week * weeks)


def work_events(tasks: list[RecurringTask], start: float, weeks: float,
                people: dict[str, list[str]], seed: int = 7) -> Iterator[dict[str, object]]:
    """Each task's occurrences over `weeks` from `start`, each in its own slot of the window
    (so the count in the window is exact) at a random moment inside the slot, by one of the
    team's people; sorted by time."""
    rng = random.Random(seed)
    events = []
    for task in tasks:
        count = task.occurrences(weeks)
        slot = weeks * WEEK / max(count, 1)
        for index in range(count):
            at = start + slot * (index + rng.uniform(0.01, 0.99))
            events.append({"ts": format_ts(round(at, 3)), "team": task.team,
                           "by": rng.choice(people[task.team]), "task": task.task,
                           "minutes": task.minutes, "kind": task.kind, "source": "manual"})
    events.sort(key=lambda e: str(e["ts"]))
    yield from events
