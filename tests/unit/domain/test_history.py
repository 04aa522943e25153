"""The budget history behind the charts: bounded tiers, the last snapshot of each step, and the
finest tier wherever it reaches."""

from __future__ import annotations

import random

import pytest

from streams.domain.history import (
    CHUNK,
    DAY,
    HOUR,
    MINUTE,
    HistoryBook,
    Point,
    SeriesHistory,
    tiers_for,
)
from streams.domain.timestamps import format_ts
from streams.wire.budgets import BudgetSnapshot
from tests.unit.conftest import T0


def point(t: float, remaining: float = 1.0) -> Point:
    return Point(t, remaining, 1000.0, 1000.0)


def snapshot(at: float, remaining: float, slo: str = "api", **series: str) -> BudgetSnapshot:
    return BudgetSnapshot(slo=slo, service="api", series=series, at=format_ts(at),
                          objective=0.999, window="30d", good=990, total=1000, sli=0.99,
                          error_budget_remaining=remaining, burn_rates={}, firing=[], labels={})


def test_a_30_day_period_keeps_minutes_for_6h_ten_minutes_for_2d_and_hours_for_the_period() -> None:
    assert [(t.step, t.span) for t in tiers_for(30 * DAY)] == [
        (MINUTE, 6 * HOUR), (10 * MINUTE, 2 * DAY), (HOUR, 30 * DAY)]
    assert tiers_for(365 * DAY)[2].step == 13 * HOUR  # 720 points over a year, whole hours
    assert [t.span for t in tiers_for(2 * HOUR)] == [2 * HOUR] * 3  # never past the period


def test_a_later_snapshot_in_the_same_step_replaces_the_point_and_an_older_one_is_ignored() -> None:
    history = SeriesHistory(30 * DAY)
    history.add(point(T0, 1.0))
    history.add(point(T0 + 30, 0.9))  # same minute
    history.add(point(T0 - 120, 0.5))  # older: a repeat after a restart
    assert [(p.t, p.remaining) for p in history.points()] == [(T0 + 30, 0.9)]
    history.add(point(T0 + 60, 0.8))
    assert [p.remaining for p in history.points()] == [0.9, 0.8]


def test_forty_days_of_snapshots_a_minute_stay_bounded_and_span_the_period() -> None:
    history = SeriesHistory(30 * DAY)
    start = T0 - 40 * DAY
    t = start
    while t <= T0:
        history.add(point(t, 1.0 - (t - start) / (40 * DAY)))
        t += MINUTE
    assert [len(tier) for tier in history.tiers] == [361, 289, 721]
    points = history.points()
    times = [p.t for p in points]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert times[-1] == T0 and times[0] <= T0 - 30 * DAY + HOUR
    recent = [p for p in points if p.t >= T0 - 6 * HOUR]
    assert len(recent) == 361  # the finest tier, every minute
    assert history.memory_bytes() == (361 + 289 + 721) * 4 * 8


def test_points_closing_mark_their_chunks_and_old_chunks_go() -> None:
    history = SeriesHistory(2 * HOUR)
    changed = history.add(point(T0))
    assert changed == set()  # the open point is not stored: the latest snapshot is
    changed = history.add(point(T0 + MINUTE))
    assert (0, int(T0 // MINUTE) // CHUNK) in changed
    for n in range(2, 200):
        changed = history.add(point(T0 + n * MINUTE))
    assert history.tiers[0].chunk_values(int(T0 // MINUTE) // CHUNK) == []  # past the span


def test_the_book_restores_from_its_chunks_and_the_latest_snapshot() -> None:
    book = HistoryBook({"api": 30 * DAY})
    stored: dict[tuple[str, int, int], list[float]] = {}
    latest = None
    for n in range(500):
        latest = snapshot(T0 + n * MINUTE, 1.0 - n / 1000, region="eu")
        book.on_budget(latest)
        for key, tier, chunk, values in book.take_changed():
            stored[(key, tier, chunk)] = values
    assert latest is not None
    again = HistoryBook({"api": 30 * DAY})
    again.restore([(key, tier, values) for (key, tier, _), values in stored.items() if values],
                  [latest])
    before = book.of("api", {"region": "eu"})
    after = again.of("api", {"region": "eu"})
    assert before is not None and after is not None
    assert after.points() == before.points()
    assert again.changed == set()


def test_snapshots_of_an_slo_not_in_the_file_are_not_kept() -> None:
    book = HistoryBook({"api": DAY})
    book.on_budget(snapshot(T0, 1.0, slo="gone"))
    assert book.series == {}


@pytest.mark.parametrize("period", [HOUR, DAY, 7 * DAY, 30 * DAY, 90 * DAY])
def test_every_period_holds_at_most_1368_points(period: float) -> None:
    assert sum(t.capacity for t in tiers_for(period)) <= 361 + 289 + 721


def test_a_chunk_holds_exactly_the_points_of_its_chunk() -> None:
    """Chunk values found by bisection are those a scan of every point finds."""
    rng = random.Random(3)
    history = SeriesHistory(30 * DAY)
    t = T0
    for _ in range(5000):
        t += rng.choice([1.0, 7.5, 59.9, 60.0, 61.0, 600.0, 3600.0])
        history.add(point(t, rng.random()))
    for tier in history.tiers:
        chunks = {tier.chunk(p.t) for p in tier.points()}
        for chunk in range(min(chunks) - 1, max(chunks) + 2):
            scanned = [value for p in tier.points() if tier.chunk(p.t) == chunk
                       for value in (p.t, p.remaining, p.good, p.total)]
            assert tier.chunk_values(chunk) == scanned
