import pytest

from streams.domain.timestamps import TimestampError, format_ts, parse_ts

EPOCH = 1763928000.0  # 2025-11-23T20:00:00Z


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (EPOCH, EPOCH),
        (int(EPOCH), EPOCH),
        ("2025-11-23T20:00:00Z", EPOCH),
        ("2025-11-23T20:00:00.123Z", EPOCH + 0.123),
        ("2025-11-23T21:00:00+01:00", EPOCH),
        ("2025-11-23T15:00:00-05:00", EPOCH),
        ("2025-11-23T20:00:00", EPOCH),  # naive strings are UTC
        ("2025-11-23 20:00:00.5", EPOCH + 0.5),
    ],
)
def test_parse_ts_reads_epoch_seconds_and_rfc3339(value: object, expected: float) -> None:
    assert parse_ts(value) == pytest.approx(expected)


@pytest.mark.parametrize("value", ["yesterday", "", None, True, [1], float("nan"), float("inf")])
def test_parse_ts_rejects_other_values(value: object) -> None:
    with pytest.raises(TimestampError):
        parse_ts(value)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(EPOCH, "2025-11-23T20:00:00.000Z"), (EPOCH + 0.1234, "2025-11-23T20:00:00.123Z"),
     (EPOCH + 59.9996, "2025-11-23T20:01:00.000Z"), (0, "1970-01-01T00:00:00.000Z")],
)
def test_format_ts_is_utc_with_milliseconds_and_z(seconds: float, text: str) -> None:
    assert format_ts(seconds) == text


def test_format_then_parse_round_trips_to_the_millisecond() -> None:
    assert parse_ts(format_ts(EPOCH + 0.456)) == pytest.approx(EPOCH + 0.456)
