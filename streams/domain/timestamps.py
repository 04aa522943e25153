"""Event time: parsing input timestamps and formatting output ones (contracts §1)."""

from __future__ import annotations

import math
import re
import time
from datetime import UTC, datetime
from functools import lru_cache

# RFC 3339 date-time (section 5.6): `T` and `Z` in either case, and a space for the `T`, as
# the RFC allows; the offset may be left out (contracts §1: naive strings are UTC). Nothing
# else ISO 8601 allows (week dates, basic format, a date alone, hours alone) is accepted.
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})?")

# Event times the product accepts: from 2000 to the end of year 9999 (RFC 3339's last year).
# A clock reset to 1970 or a garbage number is refused, not replayed across decades.
EARLIEST = 946_684_800.0  # 2000-01-01T00:00:00Z
LATEST = 253_402_300_800.0  # 10000-01-01T00:00:00Z, excluded


class TimestampError(ValueError):
    """A `ts` value that is neither epoch seconds nor an RFC 3339 string."""


@lru_cache(maxsize=4096)
def _parse_text(value: str) -> float:
    """An RFC 3339 string's epoch seconds; the latest kept: the budget snapshots and alerts of
    one evaluation all carry the same `at`, read several times each (refusals are not kept)."""
    try:
        if _RFC3339.fullmatch(value) is None:
            raise ValueError(value)
        parsed = datetime.fromisoformat(value.upper())
    except ValueError:
        raise TimestampError(f"ts is not RFC 3339: {value[:64]!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return _in_range(parsed.timestamp())


def parse_ts(value: object) -> float:
    """Epoch seconds from an int/float or an RFC 3339 string (naive strings are UTC)."""
    if isinstance(value, float | int) and not isinstance(value, bool):
        try:
            seconds = float(value)
        except OverflowError:
            raise TimestampError("ts is not a finite number") from None
        if not math.isfinite(seconds):
            raise TimestampError("ts is not a finite number")
        return _in_range(seconds)
    if isinstance(value, str):
        return _parse_text(value)
    raise TimestampError(f"ts must be epoch seconds or an RFC 3339 string, got {type(value).__name__}")


def _in_range(seconds: float) -> float:
    if not EARLIEST <= seconds < LATEST:
        raise TimestampError("ts out of range (years 2000 to 9999)")
    return seconds


@lru_cache(maxsize=1024)
def format_ts(seconds: float) -> str:
    """RFC 3339 UTC with milliseconds and a `Z` suffix (the latest kept: every series' output
    of one evaluation instant carries the same time)."""
    millis = round(seconds * 1000)
    whole, ms = divmod(millis, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{ms:03d}Z"
