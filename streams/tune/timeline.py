"""Burn rates of one series over time, for the report's charts, in bounded memory.

Fed the engine's budget snapshots (every `step` seconds of event time), a timeline keeps at
most `limit` time buckets: when it would hold more, the bucket width doubles and neighbours
merge. A bucket keeps the peak of each window, so a 30-second blip stays visible in a
month-long chart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

DEFAULT_LIMIT = 600


class BurnTimeline:
    def __init__(self, windows: Sequence[str], step: float, limit: int = DEFAULT_LIMIT) -> None:
        self.windows = tuple(windows)
        self.width = step  # seconds a bucket spans
        self._limit = limit
        self._slots: list[int] = []
        self._peaks: list[list[float]] = []

    def add(self, at: float, burn_rates: Mapping[str, float]) -> None:
        """Record the burn rates of the snapshot at event time `at` (snapshots come in time order)."""
        slot = int(at // self.width)
        values = [burn_rates.get(window, 0.0) for window in self.windows]
        if self._slots and self._slots[-1] == slot:
            self._peaks[-1] = [max(a, b) for a, b in zip(self._peaks[-1], values, strict=True)]
            return
        self._slots.append(slot)
        self._peaks.append(values)
        if len(self._slots) > self._limit:
            self._widen()

    def _widen(self) -> None:
        self.width *= 2
        slots: list[int] = []
        peaks: list[list[float]] = []
        for slot, values in zip(self._slots, self._peaks, strict=True):
            merged = slot // 2
            if slots and slots[-1] == merged:
                peaks[-1] = [max(a, b) for a, b in zip(peaks[-1], values, strict=True)]
            else:
                slots.append(merged)
                peaks.append(values)
        self._slots, self._peaks = slots, peaks

    def points(self) -> list[tuple[float, tuple[float, ...]]]:
        """(start of bucket, peak burn rate of each window), in time order."""
        return [(slot * self.width, tuple(values))
                for slot, values in zip(self._slots, self._peaks, strict=True)]
