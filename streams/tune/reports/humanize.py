"""Figures as people read them in the tune report: `8m20s`, `1h05m`, `0.67`, `12%`."""

from __future__ import annotations

import time
from itertools import pairwise

_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def duration(seconds: float | None) -> str:
    """Two units at most (`3d04h`, `8m20s`, `45s`); `—` for no value."""
    if seconds is None:
        return "—"
    whole = round(seconds)
    for (unit, size), (small, small_size) in pairwise(_UNITS):
        if whole >= size:
            high, low = divmod(round(whole / small_size), size // small_size)
            return f"{high}{unit}{low:02d}{small}" if low else f"{high}{unit}"
    return f"{whole}s"


def objective(value: float) -> str:
    """An SLO objective as people write it: `99.9%`."""
    return f"{100 * value:.6g}%"


def ratio(value: float | None) -> str:
    """A ratio in [0, 1] with two decimals; `—` when undefined (nothing to divide by)."""
    return "—" if value is None else f"{value:.2f}"


def percent(value: float | None) -> str:
    """A share of the error budget, `2.1%`; `—` for no value."""
    return "—" if value is None else f"{100 * value:.1f}%"


def rate(value: float | None) -> str:
    """Alerts per day: `0.33`, `24`."""
    if value is None:
        return "—"
    return f"{value:.0f}" if value >= 10 else f"{value:.2f}"


def factor(value: float) -> str:
    """A burn-rate threshold: `14.4×`, `1×`, `1000×`."""
    return f"{value:.4g}×"


def moment(t: float) -> str:
    """Event time to the minute, UTC: `2026-11-23 20:00`."""
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(t))
