"""Counting decoded events into their series, event by event or column-wise per batch.

Counting moves event time; whenever the watermark passes an evaluation instant, the
`advance` callback evaluates it before the next event is counted, so an event that arrives
after an instant is counted as late exactly as if it had come alone.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import accumulate, pairwise

import numpy as np

from streams.domain.engine.classify import Classifier, InvalidEvent, SeriesKey
from streams.domain.engine.clock import EventClock
from streams.domain.engine.columns import BatchColumns, ColumnClassifier, RouteColumns
from streams.domain.engine.reasons import reason_class
from streams.domain.engine.series import Series, SeriesRegistry, SloRuntime, catch_up
from streams.domain.engine.typed import FieldColumns, TypedClassifier
from streams.domain.slo.model import Slo

COLUMNAR_MIN = 64  # smaller batches are cheaper event by event


@dataclass(slots=True)
class EngineStats:
    events: int = 0
    samples: int = 0
    unmatched: int = 0
    late: int = 0
    evaluations: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)
    firing: Counter[str] = field(default_factory=Counter)
    resolved: Counter[str] = field(default_factory=Counter)


class _Flat:
    """The samples of a batch's routes in one array ascending by row (at a row, in route
    order), each with its series' number among all the routes' series."""

    def __init__(self, routes: list[RouteColumns], runtimes: Sequence[SloRuntime]) -> None:
        self.positions = [route.position for route in routes]
        self.keys = [(runtimes[route.position], key) for route in routes for key in route.series]
        self.starts = [0, *accumulate(len(route.series) for route in routes)]
        rows = np.concatenate([route.rows for route in routes]) if routes else np.zeros(0, np.int64)
        order = np.argsort(rows, kind="stable")
        self.rows = rows[order]
        self.route = np.repeat(np.arange(len(routes)), [len(r.rows) for r in routes])[order]
        self.numbers = (np.concatenate([route.codes + start for route, start in
                                        zip(routes, self.starts, strict=False)])[order]
                        if routes else np.zeros(0, np.int64))
        self.good = (np.concatenate([route.good for route in routes])[order] if routes
                     else np.zeros(0, np.int64))


class Ingestion:
    """Classifies events and counts their samples into the registry's series."""

    def __init__(self, slos: Sequence[Slo], registry: SeriesRegistry, clock: EventClock,
                 stats: EngineStats, dirty: set[Series],
                 advance: Callable[[float], None]) -> None:
        self._classifier = Classifier(slos)
        self._columns = ColumnClassifier(slos)
        self._typed = TypedClassifier(slos)
        self.slos = tuple(slos)
        self.columnar_min = COLUMNAR_MIN
        self._registry = registry
        self._runtimes = registry.runtimes
        self._clock = clock
        self._e = clock.eval_interval
        self._lateness = clock.lateness
        self.stats = stats
        self._dirty = dirty  # changed since the last checkpoint
        self._advance = advance

    def ingest(self, event: object, not_after: float | None = None) -> None:
        """Count one decoded event, then evaluate every instant the watermark has passed.

        Raises InvalidEvent (the dead-letter reason) without counting anything.
        `not_after` rejects events stamped later than it (live mode's clock guard).
        """
        stats = self.stats
        stats.events += 1
        try:
            ts, samples = self._classifier.classify(event)
        except InvalidEvent as exc:
            stats.dead_letters[reason_class(str(exc))] += 1
            raise
        if not_after is not None and ts > not_after:
            self._reject("timestamp in the future")
        index = math.ceil(ts / self._e)
        if samples:
            instant = self._clock.instant
            runtimes = self._runtimes
            if instant is not None and index <= instant:
                for sample in samples:
                    if not runtimes[sample[0]].plan.holds(index, instant):
                        self._reject("too old")
                for position, key, good, total in samples:
                    late = self._series_for(runtimes[position], key)
                    late.counters.add(index, good, total)
                    self._dirty.add(late)
                stats.late += 1
            else:
                for position, key, good, total in samples:
                    runtime = runtimes[position]
                    series = runtime.series.get(key)
                    if series is None:
                        series = self._registry.new_series(runtime, key)
                    self._dirty.add(series)
                    # SeriesCounters.add inlined: this is the per-event path.
                    pending = series.counters.pending
                    slot = pending.get(index)
                    if slot is None:
                        pending[index] = [good, total]
                    else:
                        slot[0] += good
                        slot[1] += total
            stats.samples += len(samples)
        else:
            stats.unmatched += 1
        self._observe(ts, index)

    def _observe(self, ts: float, index: int) -> None:
        """Move event time forward with a valid event; evaluate what the watermark passed."""
        clock = self._clock
        if clock.next is None or (index < clock.next and clock.instant is None):
            clock.next = index
        if ts < clock.min_ts:
            clock.min_ts = ts
        if ts > clock.max_ts:
            clock.max_ts = ts
            if (ts - self._lateness) >= clock.next * self._e:
                self._advance(ts - self._lateness)

    def _series_for(self, runtime: SloRuntime, key: SeriesKey) -> Series:
        """The series of `key`, started at the last instant (for data at or before it)."""
        series = runtime.series.get(key)
        if series is None:
            series = self._registry.new_series(runtime, key)
        catch_up(series, self._clock.instant)
        return series

    def ingest_batch(self, events: Sequence[object], not_after: float | None = None,
                     fields: FieldColumns | None = None) -> list[tuple[int, str]]:
        """Ingest events in order, with exactly the effect of `ingest` on each in turn.

        Returns `(position, reason)` for each event rejected. Batches of plain request
        events are classified column-wise (see streams.domain.engine.columns); the rest, and
        everything until the first evaluation, take the per-event path. `fields`, the same
        events decoded a field at a time, is read first when given (`events` only if it is
        declined, so `events` may decode on first access).
        """
        columns = None
        if len(events) >= self.columnar_min:
            if fields is not None:
                columns = self._typed.classify(fields)
                if columns is None:
                    events = list(events)  # decoded now if not yet: read whole from here
            if columns is None:
                columns = self._columns_of(events)
        if columns is None or (not_after is not None and float(columns.ts.max()) > not_after):
            return self._ingest_each(events, 0, not_after)
        clock = self._clock
        ts = columns.ts
        e = self._e
        index = np.ceil(ts / e).astype(np.int64)
        watermarks = np.maximum.accumulate(ts) - self._lateness
        rejected: list[tuple[int, str]] = []
        flat = _Flat(columns.routes, self._runtimes)
        cursor, n = 0, len(events)
        while cursor < n:
            if clock.instant is None or clock.next is None:
                # Before the first evaluation the start instant can still move back.
                rejected += self._ingest_each(events, cursor, not_after, stop=cursor + 1)
                cursor += 1
                continue
            crossing = int(np.searchsorted(watermarks, clock.next * e, side="left"))
            last = min(max(crossing, cursor), n - 1)
            if not self._apply_rows(flat, columns.matched, index, cursor, last):
                return rejected + self._ingest_each(events, cursor, not_after)
            chunk = ts[cursor:last + 1]
            low, high = float(chunk.min()), float(chunk.max())
            clock.min_ts = min(clock.min_ts, low)
            if high > clock.max_ts:
                clock.max_ts = high
                if (high - self._lateness) >= clock.next * e:
                    self._advance(high - self._lateness)
            cursor = last + 1
        return rejected

    def _columns_of(self, events: Sequence[object]) -> BatchColumns | None:
        """The batch column-wise, or None: then each event goes the per-event path, which
        refuses a bad one with its reason (whatever the column-wise pass stumbled on)."""
        try:
            return self._columns.classify(events)
        except Exception:
            return None

    def _ingest_each(self, events: Sequence[object], start: int, not_after: float | None,
                     stop: int | None = None) -> list[tuple[int, str]]:
        rejected: list[tuple[int, str]] = []
        for position in range(start, len(events) if stop is None else stop):
            try:
                self.ingest(events[position], not_after)
            except InvalidEvent as exc:
                rejected.append((position, str(exc)))
        return rejected

    def _apply_rows(self, flat: _Flat, matched: np.ndarray, index: np.ndarray,
                    first: int, last: int) -> bool:
        """Count rows first..last (no evaluation falls between them); False if one is too old.

        All routes at once: their rows in one ascending array (`_Flat`), each sample
        carrying the number of its series among all the routes' series."""
        instant = self._clock.instant
        assert instant is not None
        stats = self.stats
        lo = int(np.searchsorted(flat.rows, first, side="left"))
        hi = int(np.searchsorted(flat.rows, last, side="right"))
        if lo < hi:
            indices = index[flat.rows[lo:hi]]
            numbers = flat.numbers[lo:hi]
            late = indices <= instant
            any_late = bool(late.any())
            if any_late:  # each SLO's oldest late sample must still have a bucket
                routes = flat.route[lo:hi][late]
                for route in np.unique(routes).tolist():
                    oldest = int(indices[late][routes == route].min())
                    if not self._runtimes[flat.positions[route]].plan.holds(oldest, instant):
                        return False
            known = [runtime.series.get(key) for runtime, key in flat.keys]
            if None in known:
                present = np.unique(numbers).tolist()
                if any(known[number] is None for number in present):
                    self._new_series(flat, known, numbers)
            if any_late:
                for number in np.unique(numbers[late]).tolist():
                    catch_up(known[number], instant)
            base = int(indices.min())
            span = int(indices.max()) - base + 1
            keys = numbers * span + (indices - base)
            good = flat.good[lo:hi]
            if len(known) * span <= 4 * len(keys) + 64:
                totals = np.bincount(keys)
                present = np.flatnonzero(totals)
                goods = np.bincount(keys, weights=good)[present].astype(np.int64).tolist()
                counts = totals[present].tolist()
                cells = present.tolist()
            else:
                unique, inverse = np.unique(keys, return_inverse=True)
                goods = np.bincount(inverse, weights=good).astype(np.int64).tolist()
                counts = np.bincount(inverse).tolist()
                cells = unique.tolist()
            dirty = self._dirty
            for cell, good_count, total in zip(cells, goods, counts, strict=True):
                number, offset = divmod(cell, span)
                counted = known[number]
                assert counted is not None
                counted.counters.add(base + offset, good_count, total)
                dirty.add(counted)
            stats.samples += hi - lo
        rows = matched[first:last + 1]
        hits = int(rows.sum())
        stats.events += last + 1 - first
        stats.unmatched += len(rows) - hits
        stats.late += int((rows & (index[first:last + 1] <= instant)).sum())
        return True

    def _new_series(self, flat: _Flat, known: list[Series | None], numbers: np.ndarray) -> None:
        """Create the missing series of these samples SLO by SLO, each SLO's in order of first
        appearance, as event by event would."""
        for route, (start, stop) in enumerate(pairwise(flat.starts)):
            mine = numbers[(numbers >= start) & (numbers < stop)]
            if not len(mine):
                continue
            order, firsts = np.unique(mine, return_index=True)
            runtime = self._runtimes[flat.positions[route]]
            for number in order[np.argsort(firsts)].tolist():
                if known[number] is None:
                    known[number] = self._registry.new_series(runtime, flat.keys[number][1])

    def reject(self, reason: str) -> None:
        """Count an event that failed before decoding (bad JSON, oversized)."""
        self.stats.events += 1
        self.stats.dead_letters[reason_class(reason)] += 1

    def _reject(self, reason: str) -> None:
        self.stats.dead_letters[reason_class(reason)] += 1
        raise InvalidEvent(reason)
