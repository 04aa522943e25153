"""Event time: parsing input timestamps and formatting output ones (contracts §1)."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime


class TimestampError(ValueError):
    """A `ts` value that is neither epoch seconds nor an RFC 3339 string."""


def parse_ts(value: object) -> float:
    """Epoch seconds from an int/float or an RFC 3339 string (naive strings are UTC)."""
    if isinstance(value, float | int) and not isinstance(value, bool):
        try:
            seconds = float(value)
        except OverflowError:
            raise TimestampError("ts is not a finite number") from None
        if not math.isfinite(seconds):
            raise TimestampError("ts is not a finite number")
        return seconds
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise TimestampError(f"ts is not RFC 3339: {value[:64]!r}") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.timestamp()
    raise TimestampError(f"ts must be epoch seconds or an RFC 3339 string, got {type(value).__name__}")


def format_ts(seconds: float) -> str:
    """RFC 3339 UTC with milliseconds and a `Z` suffix."""
    millis = round(seconds * 1000)
    whole, ms = divmod(millis, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{ms:03d}Z"
