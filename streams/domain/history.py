"""A bounded history of every series' budget, for the charts of the web pages.

Each series keeps its budget snapshots in three tiers, like a round-robin database: a point a
minute over the last 6 hours, a point per 10 minutes over the last 2 days (or the period, if
shorter), and over the whole period a point per hour or per 1/720 of the period, whichever is
coarser. A point is the last snapshot of its step (budget remaining is a level, not a sum):
a later snapshot in the same step replaces it. So a series holds at most 360 + 288 + 720
points whatever its period, four doubles each (docs/performance.md).

Stored in chunks of 12 points per tier (`streams.runtime.incidents.state` names the records),
written when a point closes, so a checkpoint writes one small record per series and tier at
most, never the whole history. The point still open in each tier is the series' latest
snapshot, which the state stores anyway: a restore adds it back.

Pure: time comes from the snapshots (event time).
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import orjson

from streams.domain.policy import series_key
from streams.domain.timestamps import parse_ts
from streams.wire.budgets import BudgetSnapshot

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
FIELDS = 4  # t (epoch seconds), error budget remaining, good, total (over the period)
CHUNK = 12  # points per stored chunk: a closing point rewrites ~6 points on average
COARSE_POINTS = 720  # points of the coarsest tier over the period


@dataclass(frozen=True, slots=True)
class Point:
    """One snapshot as the history keeps it."""

    t: float
    remaining: float
    good: float
    total: float


@dataclass(frozen=True, slots=True)
class TierSpec:
    step: float  # seconds per point
    span: float  # seconds kept behind the newest point

    @property
    def capacity(self) -> int:
        return int(self.span // self.step) + 1


def tiers_for(period: float) -> tuple[TierSpec, ...]:
    """The tiers of a series whose SLO has this period (seconds)."""
    coarse = max(HOUR, HOUR * -(-period // (COARSE_POINTS * HOUR)))
    return (TierSpec(MINUTE, min(6 * HOUR, period)), TierSpec(10 * MINUTE, min(2 * DAY, period)),
            TierSpec(coarse, period))


class Tier:
    """The points of one tier, oldest first, as a flat array of doubles."""

    __slots__ = ("spec", "values")

    def __init__(self, spec: TierSpec) -> None:
        self.spec = spec
        self.values = array("d")

    def __len__(self) -> int:
        return len(self.values) // FIELDS

    def bucket(self, t: float) -> int:
        return int(t // self.spec.step)

    def chunk(self, t: float) -> int:
        return self.bucket(t) // CHUNK

    def last_t(self) -> float | None:
        return self.values[-FIELDS] if self.values else None

    def add(self, point: Point) -> set[int]:
        """Add a point; returns the chunks whose stored points changed (a point closed, or
        points older than the span went)."""
        values, step, t = self.values, self.spec.step, point.t
        changed: set[int] = set()
        if values:
            last = values[-FIELDS]
            bucket, last_bucket = t // step, last // step
            if bucket < last_bucket or (bucket == last_bucket and t < last):
                return changed  # older than this tier's newest point: a repeat after a restart
            if bucket == last_bucket:  # the open point moves on
                values[-4], values[-3], values[-2], values[-1] = (
                    t, point.remaining, point.good, point.total)
                return changed
            changed.add(int(last_bucket) // CHUNK)  # the previous point is final now
        values.extend((t, point.remaining, point.good, point.total))
        if values[0] < t - self.spec.span:
            oldest_kept = t - self.spec.span
            drop = 0
            while drop < len(values) and values[drop] < oldest_kept:
                changed.add(self.chunk(values[drop]))
                drop += FIELDS
            del values[:drop]
        return changed

    def points(self, since: float | None = None) -> Iterator[Point]:
        values = self.values
        for i in range(0, len(values), FIELDS):
            if since is None or values[i] >= since:
                yield Point(values[i], values[i + 1], values[i + 2], values[i + 3])

    def chunk_values(self, chunk: int) -> list[float]:
        """The flat values of the points of one chunk (empty: the chunk is gone). Points are
        held oldest first, so a chunk's points are one run, found by bisection."""
        values = self.values
        first = bisect_left(range(len(values) // FIELDS), chunk,
                            key=lambda i: self.chunk(values[i * FIELDS]))
        end = bisect_left(range(first, len(values) // FIELDS), chunk + 1,
                          key=lambda i: self.chunk(values[i * FIELDS])) + first
        return values[first * FIELDS:end * FIELDS].tolist()


class SeriesHistory:
    """The tiers of one series."""

    __slots__ = ("tiers",)

    def __init__(self, period: float) -> None:
        self.tiers = tuple(Tier(spec) for spec in tiers_for(period))

    def add(self, point: Point) -> set[tuple[int, int]]:
        """Add a point to every tier; returns the (tier, chunk) pairs to store again."""
        return {(n, chunk) for n, tier in enumerate(self.tiers) for chunk in tier.add(point)}

    def points(self, since: float | None = None) -> list[Point]:
        """Every point from `since` on, oldest first: each stretch from the finest tier that
        covers it."""
        merged: list[Point] = []
        covered_from = float("inf")
        for tier in self.tiers:  # finest first
            first = tier.last_t() is not None and tier.values[0]
            if first is False:
                continue
            older = [p for p in tier.points(since) if p.t < covered_from]
            merged = older + merged
            covered_from = min(covered_from, float(first))
        return merged

    def memory_bytes(self) -> int:
        """The arrays' payload: what grows with the points held."""
        return sum(tier.values.itemsize * len(tier.values) for tier in self.tiers)


def point_of(snapshot: BudgetSnapshot, at: float | None = None) -> Point:
    """A snapshot's point; the budget to 6 decimals (a chart needs no more, and the stored
    chunks are shorter)."""
    return Point(parse_ts(snapshot.at) if at is None else at,
                 round(snapshot.error_budget_remaining, 6),
                 float(snapshot.good), float(snapshot.total))


def chunk_json(values: list[float]) -> bytes:
    """A chunk as stored: a flat JSON array, whole numbers without a fraction."""
    return orjson.dumps([int(v) if v.is_integer() else v for v in values])


class HistoryBook:
    """The history of every series (keyed as the policy keys budgets), and what to store."""

    def __init__(self, periods: dict[str, float]) -> None:
        self.periods = periods  # SLO name -> period (seconds)
        self.series: dict[str, SeriesHistory] = {}
        self.changed: set[tuple[str, int, int]] = set()  # (series key, tier, chunk) to store

    def on_budget(self, snapshot: BudgetSnapshot, key: str | None = None,
                  at: float | None = None) -> None:
        """Add a snapshot's point (`key`, `at`: its series key and parsed time, if known)."""
        period = self.periods.get(snapshot.slo)
        if period is None:
            return  # an SLO since removed from the file
        key = series_key(snapshot.slo, snapshot.series) if key is None else key
        history = self.series.get(key)
        if history is None:
            history = self.series[key] = SeriesHistory(period)
        self.changed.update((key, tier, chunk)
                            for tier, chunk in history.add(point_of(snapshot, at)))

    def of(self, slo: str, series: dict[str, str]) -> SeriesHistory | None:
        return self.series.get(series_key(slo, series))

    def take_changed(self) -> list[tuple[str, int, int, list[float]]]:
        """The chunks to store (series key, tier, chunk, flat values; empty values: delete)."""
        out = []
        for key, tier, chunk in sorted(self.changed):
            history = self.series.get(key)
            out.append((key, tier, chunk,
                        history.tiers[tier].chunk_values(chunk) if history is not None else []))
        self.changed.clear()
        return out

    def restore(self, chunks: Iterable[tuple[str, int, list[float]]],
                latest: Iterable[BudgetSnapshot]) -> None:
        """The stored chunks (series key, tier, flat values), then each series' latest
        snapshot (the point still open in every tier)."""
        self.series, self.changed = {}, set()
        for key, tier_index, values in sorted(chunks, key=lambda c: (c[0], c[1],
                                                                     c[2][0] if c[2] else 0.0)):
            slo = _slo_of(key)
            period = self.periods.get(slo)
            if period is None:
                continue
            history = self.series.get(key)
            if history is None:
                history = self.series[key] = SeriesHistory(period)
            if tier_index >= len(history.tiers):
                continue
            tier = history.tiers[tier_index]
            for i in range(0, len(values) - FIELDS + 1, FIELDS):
                tier.add(Point(*values[i:i + FIELDS]))
        for snapshot in latest:
            self.on_budget(snapshot)
        self.changed.clear()  # what was restored is stored already


def _slo_of(key: str) -> str:
    name = orjson.loads(key)[0]
    return str(name)
