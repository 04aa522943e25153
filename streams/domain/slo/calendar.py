"""Calendar budget periods: months, ISO weeks (from Monday) and quarters in a time zone.

A period covers the events with `start < ts <= end`, `start` and `end` being local midnights
(the engine's windows are closed on the right the same way: an event stamped exactly at
midnight belongs to the period that ends then). Lengths follow the zone: a week across a
change to or from summer time lasts 167 or 169 hours. Burn-rate factors use the nominal
length instead (30, 7 or 91 days), as the SRE Workbook's are computed for a 30-day month.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY = 86400.0
NOMINAL_DAYS = {"month": 30, "week": 7, "quarter": 91}
UNITS = tuple(NOMINAL_DAYS)


class CalendarError(ValueError):
    """A calendar unit or time zone that does not exist."""


@dataclass(frozen=True, slots=True)
class Calendar:
    unit: str  # month | week | quarter
    timezone: str  # IANA name, such as Europe/Berlin
    zone: ZoneInfo = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.unit not in NOMINAL_DAYS:
            raise CalendarError(f"calendar must be one of {', '.join(UNITS)}, got {self.unit!r}")
        try:
            zone = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise CalendarError(f"unknown time zone {self.timezone!r} (an IANA name such as "
                                "Europe/Berlin or UTC)") from None
        object.__setattr__(self, "zone", zone)

    @property
    def nominal(self) -> float:
        """The length burn-rate factors are computed from: 30, 7 or 91 days."""
        return NOMINAL_DAYS[self.unit] * DAY

    @property
    def label(self) -> str:
        return f"{self.unit} {self.timezone}"

    def _first(self, local: datetime) -> datetime:
        """Local midnight starting the period that holds `local`."""
        day = local.replace(hour=0, minute=0, second=0, microsecond=0, fold=0)
        if self.unit == "week":
            return day - timedelta(days=day.weekday())
        month = day.month if self.unit == "month" else (day.month - 1) // 3 * 3 + 1
        return day.replace(month=month, day=1)

    def _next(self, first: datetime) -> datetime:
        if self.unit == "week":
            return first + timedelta(days=7)  # wall-clock arithmetic: local midnight again
        months = first.month - 1 + (1 if self.unit == "month" else 3)
        return first.replace(year=first.year + months // 12, month=months % 12 + 1)

    def bounds(self, ts: float) -> tuple[float, float]:
        """(start, end) of the period holding an event stamped `ts` (`start < ts <= end`)."""
        first = self._first(datetime.fromtimestamp(ts, self.zone))
        start = first.timestamp()
        if start >= ts:  # exactly at midnight: the period that ends now
            first = self._first(datetime.fromtimestamp(start - 1, self.zone))
            start = first.timestamp()
        return start, self._next(first).timestamp()
