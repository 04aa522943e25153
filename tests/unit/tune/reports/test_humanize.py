"""The pieces the tune reports are written with: figures as text."""

from __future__ import annotations

import pytest

from streams.tune.reports.humanize import duration, objective, percent, rate


@pytest.mark.parametrize(("seconds", "text"), [
    (None, "—"), (0, "0s"), (45, "45s"), (60, "1m"), (500, "8m20s"), (3720, "1h02m"),
    (129595, "1d12h"), (5 * 86400, "5d"),
])
def test_durations_read_in_two_units_at_most(seconds: float | None, text: str) -> None:
    assert duration(seconds) == text


def test_figures() -> None:
    assert (objective(0.999), objective(0.99), percent(0.0193), rate(24.0), rate(0.667)) == (
        "99.9%", "99%", "1.9%", "24", "0.67")

