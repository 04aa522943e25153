import pytest

from streams.domain.durations import DurationError, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30), ("5m", 300), ("1h", 3600), ("1.5h", 5400), ("30d", 2592000),
        ("2w", 1209600), ("90", 90), (60, 60), (2.5, 2.5), (" 10m ", 600),
    ],
)
def test_parse_duration_accepts_units_and_bare_seconds(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5x", "m", "-5m", "0s", "1h30m", True, "inf", "nan"])
def test_parse_duration_rejects_what_is_not_a_positive_duration(text: object) -> None:
    with pytest.raises(DurationError):
        parse_duration(text)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(30, "30s"), (300, "5m"), (5400, "90m"), (3600, "1h"), (129600, "36h"), (86400, "1d"),
     (259200, "3d"), (1209600, "2w"), (2592000, "30d"), (0.5, "0.5s")],
)
def test_format_duration_picks_the_largest_exact_unit(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
