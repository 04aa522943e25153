"""Progress output on stderr for long runs: a live bar on a terminal, a line every few s otherwise."""

from __future__ import annotations

import time
from typing import TextIO

from tqdm import tqdm


class Progress:
    """Tracks bytes read and events handled; shows rate in events/s."""

    def __init__(self, total_bytes: int, stream: TextIO, *, label: str, enabled: bool = True,
                 every: float = 10.0) -> None:
        self._stream = stream
        self._label = label
        self._total = total_bytes
        self._every = every
        self._started = time.monotonic()
        self._last_line = self._started
        self._events = 0
        self._bytes = 0
        self._bar: tqdm | None = None
        self._enabled = enabled
        if enabled and stream.isatty():
            self._bar = tqdm(total=total_bytes, file=stream, unit="B", unit_scale=True,
                             desc=label, dynamic_ncols=True, leave=False)

    def update(self, position: int, events: int) -> None:
        """Report the current byte position and event count."""
        if not self._enabled:
            return
        now = time.monotonic()
        rate = events / max(now - self._started, 1e-9)
        if self._bar is not None:
            self._bar.update(position - self._bytes)
            self._bar.set_postfix_str(f"{events:,} events, {rate:,.0f} events/s", refresh=False)
        elif now - self._last_line >= self._every:
            share = f", {100 * position / self._total:.0f}%" if self._total else ""
            print(f"{self._label}: {events:,} events, {rate:,.0f} events/s{share}",
                  file=self._stream, flush=True)
            self._last_line = now
        self._bytes = position
        self._events = events

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started
