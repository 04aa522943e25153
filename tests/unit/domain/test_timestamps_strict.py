"""Input timestamps are RFC 3339 or epoch numbers, nothing else ISO 8601 allows."""

from __future__ import annotations

import pytest

from streams.domain.timestamps import TimestampError, parse_ts


@pytest.mark.parametrize(("text", "seconds"), [
    ("2026-12-01T20:04:14Z", 1796155454.0),
    ("2026-12-01t20:04:14z", 1796155454.0),  # the RFC allows either case
    ("2026-12-01T20:04:14.250Z", 1796155454.25),
    ("2026-12-01T22:04:14+02:00", 1796155454.0),
    ("2026-12-01 20:04:14Z", 1796155454.0),  # a space for the T, as the RFC allows
    ("2026-12-01T20:04:14", 1796155454.0),  # naive: UTC (contracts §1)
])
def test_rfc3339_date_times_are_read(text: str, seconds: float) -> None:
    assert parse_ts(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", [
    "2026-12-01", "2026-W49-2", "20261201T195143Z", "2026-12-01T19", "2026-12-01_20:04:14Z",
    "2026-13-01T00:00:00Z", "2026-12-01T20:04:14+0200", "2026-12-01T20:04:14.Z", " 2026-12-01T20:04:14Z",
])
def test_other_iso_8601_forms_are_refused(text: str) -> None:
    with pytest.raises(TimestampError, match="not RFC 3339"):
        parse_ts(text)


@pytest.mark.parametrize("value", [0, -1, 946_684_799.999, "1999-12-31T23:59:59Z", 1e300, 2**64,
                                   253_402_300_800])
def test_times_before_2000_or_after_9999_are_refused(value: object) -> None:
    with pytest.raises(TimestampError, match=r"out of range \(years 2000 to 9999\)"):
        parse_ts(value)


def test_the_range_ends_are_inclusive_of_2000_and_of_9999() -> None:
    assert parse_ts("2000-01-01T00:00:00Z") == 946_684_800.0
    assert parse_ts("9999-12-31T23:59:59.999Z") == pytest.approx(253_402_300_799.999)
