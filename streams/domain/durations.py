"""Durations as written in SLO files and on the command line (`30s`, `5m`, `1h`, `30d`, `2w`, `5y`)."""

from __future__ import annotations

import math
import re

_UNITS: dict[str, int] = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800,
                          "y": 365 * 86400}  # a year of 365 days (payback horizons)
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdwy]?)\s*$")


class DurationError(ValueError):
    """A duration string that cannot be parsed."""


def parse_duration(value: str | int | float) -> float:
    """Seconds in a duration such as `5m` or `1.5h`; a bare number is seconds."""
    if isinstance(value, bool):
        raise DurationError(f"expected a duration like 5m or 1h, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _PATTERN.match(str(value))
        if match is None:
            raise DurationError(f"expected a duration like 30s, 5m, 1h, 30d or 2w, got {value!r}")
        seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    if not math.isfinite(seconds) or seconds <= 0:
        raise DurationError(f"a duration must be positive, got {value!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest exact form: 300 -> `5m`, 5400 -> `90m`, 86400 -> `1d`."""
    if seconds > 0 and float(seconds).is_integer():
        whole = int(seconds)
        for unit in ("w", "d", "h", "m"):
            if whole % _UNITS[unit] == 0:
                return f"{whole // _UNITS[unit]}{unit}"
        return f"{whole}s"
    return f"{seconds:g}s"
