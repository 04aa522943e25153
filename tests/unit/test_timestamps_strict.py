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
