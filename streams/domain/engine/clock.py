"""Event time of one engine: the newest and oldest event seen, and the evaluation instants."""

from __future__ import annotations

import math


class EventClock:
    """Where evaluation stands; instants are indices `T / eval_interval` (contracts §4)."""

    __slots__ = ("eval_interval", "instant", "lateness", "max_ts", "min_ts", "next")

    def __init__(self, eval_interval: float, lateness: float) -> None:
        self.eval_interval = eval_interval
        self.lateness = lateness
        self.instant: int | None = None  # last evaluated index
        self.next: int | None = None  # next index to evaluate
        self.max_ts = -math.inf
        self.min_ts = math.inf

    @property
    def watermark(self) -> float:
        return self.max_ts - self.lateness

    @property
    def last_instant(self) -> float | None:
        """Event time of the last evaluation, if any."""
        return None if self.instant is None else self.instant * self.eval_interval

    @property
    def time_range(self) -> tuple[float | None, float | None]:
        """Oldest and newest event time counted."""
        if self.min_ts > self.max_ts:
            return None, None
        return self.min_ts, self.max_ts
