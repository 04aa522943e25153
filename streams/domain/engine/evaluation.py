"""The SLO engine: event-time watermark, evaluation instants, rules and transitions.

One `Engine` is fed decoded events in arrival order (a backtest file, or one Kafka
partition) and collects alert transitions and budget snapshots. Backtest and the live
worker run exactly this code, so they produce the same alerts at the same event times.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from streams.domain.durations import format_duration
from streams.domain.engine.alerts import alert_event, alert_id, bad_ratio_threshold, burn_rate, sli
from streams.domain.engine.classify import OTHER, Classifier, InvalidEvent, SeriesKey
from streams.domain.engine.columns import ColumnClassifier, RouteColumns
from streams.domain.engine.counters import CounterPlan, SeriesCounters, plan_for
from streams.domain.slo.model import AlertRule, Slo, SloFile
from streams.domain.timestamps import format_ts

_COLUMNAR_MIN = 64  # smaller batches are cheaper event by event


@dataclass(frozen=True, slots=True)
class EngineSettings:
    eval_interval: float = 10.0
    lateness: float = 5.0
    budget_interval: float | None = 60.0  # None: no budget snapshots

    def __post_init__(self) -> None:
        if not self.eval_interval > 0:
            raise ValueError("eval_interval must be positive")
        if self.lateness < 0:
            raise ValueError("lateness must be >= 0")
        if self.budget_interval is not None:
            steps = self.budget_interval / self.eval_interval
            if steps < 1 or abs(steps - round(steps)) > 1e-9:
                raise ValueError("budget_interval must be a multiple of eval_interval")


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


@dataclass(frozen=True, slots=True)
class _RuleSpec:
    rule: AlertRule
    long: int
    short: int
    num: int  # trips when bad * den >= num * total (see bad_ratio_threshold)
    den: int
    allowed: float  # 1 - objective: the short window burns (rate > 1) when bad > allowed * total
    hysteresis: bool  # resolve below a lower threshold and/or after keep_firing_for
    keep_num: int  # while firing, still holds when bad * keep_den >= keep_num * total
    keep_den: int
    keep_for: float


class _SloRuntime:
    __slots__ = ("index", "min_events", "period", "plan", "rules", "series",
                 "slo", "window_labels")

    def __init__(self, slo: Slo, index: int, plan: CounterPlan) -> None:
        self.slo = slo
        self.index = index
        self.plan = plan
        self.min_events = slo.min_events
        self.period = plan.index(slo.window)
        self.rules = tuple(
            _RuleSpec(rule, plan.index(rule.long), plan.index(rule.short),
                      *bad_ratio_threshold(rule, slo), 1.0 - slo.objective,
                      rule.resolve_below is not None or rule.keep_firing_for > 0,
                      *bad_ratio_threshold(rule, slo, rule.resolve_below or 1.0),
                      rule.keep_firing_for)
            for rule in slo.policy.rules
        )
        self.window_labels = tuple(format_duration(w) for w in plan.windows)
        self.series: dict[SeriesKey, Series] = {}


class Series:
    """One SLO series: its counters, which rules are firing since when, and since when each
    rule's short window has burnt faster than 1x (for time to detect)."""

    __slots__ = ("burning", "clear", "counters", "key", "labels", "runtime", "started")

    def __init__(self, runtime: _SloRuntime, key: SeriesKey) -> None:
        self.runtime = runtime
        self.key = key
        self.labels = dict(zip(runtime.slo.group_by, key, strict=True))
        self.counters = SeriesCounters(runtime.plan)
        self.started: list[float | None] = [None] * len(runtime.rules)
        self.burning: list[float | None] = [None] * len(runtime.rules)
        # Hysteresis: since when a firing rule's release condition has held (None: not now).
        self.clear: list[float | None] = [None] * len(runtime.rules)

    @property
    def slo(self) -> Slo:
        return self.runtime.slo

    def sort_key(self) -> tuple[int, SeriesKey]:
        return (self.runtime.index, self.key)


class Engine:
    """Feeds events through classification, counters and rules; collects the output."""

    def __init__(self, slo_file: SloFile, settings: EngineSettings | None = None) -> None:
        self.settings = settings or EngineSettings()
        self._e = self.settings.eval_interval
        self._lateness = self.settings.lateness
        self._budget_every = (
            None if self.settings.budget_interval is None
            else round(self.settings.budget_interval / self._e)
        )
        self._classifier = Classifier(slo_file.slos)
        self._columns = ColumnClassifier(slo_file.slos)
        self.columnar_min = _COLUMNAR_MIN
        self._runtimes = [
            _SloRuntime(slo, i, plan_for(slo, self._e)) for i, slo in enumerate(slo_file.slos)
        ]
        self._series: list[Series] = []
        self._series_keys: list[tuple[int, SeriesKey]] = []
        self._max_ts = -math.inf
        self._min_ts = math.inf
        self._instant: int | None = None  # last evaluated index
        self._next: int | None = None  # next index to evaluate
        self.stats = EngineStats()
        self.alerts: list[dict[str, object]] = []
        self.budgets: list[dict[str, object]] = []
        self._dirty: set[Series] = set()  # changed since the last checkpoint

    # -- input -------------------------------------------------------------------------

    @property
    def watermark(self) -> float:
        return self._max_ts - self._lateness

    @property
    def last_instant(self) -> float | None:
        """Event time of the last evaluation, if any."""
        return None if self._instant is None else self._instant * self._e

    @property
    def time_range(self) -> tuple[float | None, float | None]:
        """Oldest and newest event time counted."""
        if self._min_ts > self._max_ts:
            return None, None
        return self._min_ts, self._max_ts

    @property
    def next_instant(self) -> int | None:
        """Index (`T / eval_interval`) of the next evaluation, if any is due."""
        return self._next

    @property
    def series(self) -> list[Series]:
        return self._series

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
            stats.dead_letters[str(exc)] += 1
            raise
        if not_after is not None and ts > not_after:
            self._reject("timestamp in the future")
        index = math.ceil(ts / self._e)
        if samples:
            instant = self._instant
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
                        series = self._new_series(runtime, key)
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
        if self._next is None or (index < self._next and self._instant is None):
            self._next = index
        if ts < self._min_ts:
            self._min_ts = ts
        if ts > self._max_ts:
            self._max_ts = ts
            if (ts - self._lateness) >= self._next * self._e:
                self.advance(ts - self._lateness)

    def _series_for(self, runtime: _SloRuntime, key: SeriesKey) -> Series:
        """The series of `key`, started at the last instant (for data at or before it)."""
        series = runtime.series.get(key)
        if series is None:
            series = self._new_series(runtime, key)
        self._catch_up(series)
        return series

    def _catch_up(self, series: Series) -> None:
        """Bring a series that was never started, or sleeps, to the last instant."""
        instant = self._instant
        if instant is None:
            return
        counters = series.counters
        if counters.instant is None:
            counters.start(instant)
        elif counters.instant < instant:
            counters.advance(instant)  # a sleeping series has nothing pending

    def ingest_batch(self, events: Sequence[object],
                     not_after: float | None = None) -> list[tuple[int, str]]:
        """Ingest events in order, with exactly the effect of `ingest` on each in turn.

        Returns `(position, reason)` for each event rejected. Batches of plain request
        events are classified column-wise (see streams.domain.engine.columns); the rest, and
        everything until the first evaluation, take the per-event path.
        """
        columns = self._columns.classify(events) if len(events) >= self.columnar_min else None
        if columns is None or (not_after is not None and float(columns.ts.max()) > not_after):
            return self._ingest_each(events, 0, not_after)
        ts = columns.ts
        e = self._e
        index = np.ceil(ts / e).astype(np.int64)
        watermarks = np.maximum.accumulate(ts) - self._lateness
        rejected: list[tuple[int, str]] = []
        cursor, n = 0, len(events)
        while cursor < n:
            if self._instant is None or self._next is None:
                # Before the first evaluation the start instant can still move back.
                rejected += self._ingest_each(events, cursor, not_after, stop=cursor + 1)
                cursor += 1
                continue
            crossing = int(np.searchsorted(watermarks, self._next * e, side="left"))
            last = min(max(crossing, cursor), n - 1)
            if not self._apply_rows(columns.routes, columns.matched, index, cursor, last):
                return rejected + self._ingest_each(events, cursor, not_after)
            chunk = ts[cursor:last + 1]
            low, high = float(chunk.min()), float(chunk.max())
            self._min_ts = min(self._min_ts, low)
            if high > self._max_ts:
                self._max_ts = high
                if (high - self._lateness) >= self._next * e:
                    self.advance(high - self._lateness)
            cursor = last + 1
        return rejected

    def _ingest_each(self, events: Sequence[object], start: int, not_after: float | None,
                     stop: int | None = None) -> list[tuple[int, str]]:
        rejected: list[tuple[int, str]] = []
        for position in range(start, len(events) if stop is None else stop):
            try:
                self.ingest(events[position], not_after)
            except InvalidEvent as exc:
                rejected.append((position, str(exc)))
        return rejected

    def _apply_rows(self, routes: list[RouteColumns], matched: np.ndarray, index: np.ndarray,
                    first: int, last: int) -> bool:
        """Count rows first..last (no evaluation falls between them); False if one is too old."""
        instant = self._instant
        assert instant is not None
        slices = []
        for route in routes:
            lo = int(np.searchsorted(route.rows, first, side="left"))
            hi = int(np.searchsorted(route.rows, last, side="right"))
            if lo == hi:
                continue
            indices = index[route.rows[lo:hi]]
            oldest = int(indices.min())
            if oldest <= instant and not self._runtimes[route.position].plan.holds(oldest, instant):
                return False
            slices.append((route, lo, hi, indices))
        stats = self.stats
        for route, lo, hi, indices in slices:
            runtime = self._runtimes[route.position]
            codes = route.codes[lo:hi]
            known = [runtime.series.get(key) for key in route.series]
            if None in known:
                # Create new series in order of first appearance, as event by event would.
                order, firsts = np.unique(codes, return_index=True)
                for code in order[np.argsort(firsts)].tolist():
                    if known[code] is None:
                        known[code] = self._new_series(runtime, route.series[code])
            if int(indices.min()) <= instant:
                for code in np.unique(codes[indices <= instant]).tolist():
                    self._catch_up(known[code])
            base = int(indices.min())
            span = int(indices.max()) - base + 1
            keys = codes * span + (indices - base)
            good = route.good[lo:hi]
            if len(route.series) * span <= 4 * len(keys) + 64:
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
                code, offset = divmod(cell, span)
                counted = known[code]
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

    def reject(self, reason: str) -> None:
        """Count an event that failed before decoding (bad JSON, oversized)."""
        self.stats.events += 1
        self.stats.dead_letters[reason] += 1

    def _reject(self, reason: str) -> None:
        self.stats.dead_letters[reason] += 1
        raise InvalidEvent(reason)

    def _new_series(self, runtime: _SloRuntime, key: SeriesKey) -> Series:
        slo = runtime.slo
        if len(runtime.series) >= slo.max_series and slo.group_by:
            key = tuple(OTHER for _ in slo.group_by)
            existing = runtime.series.get(key)
            if existing is not None:
                return existing
        # Not started here: a series joins the evaluations at the instant before its first
        # data, so when it was created (which depends on arrival order) never shows.
        series = Series(runtime, key)
        runtime.series[key] = series
        position = bisect.bisect(self._series_keys, series.sort_key())
        self._series_keys.insert(position, series.sort_key())
        self._series.insert(position, series)
        return series

    # -- evaluation --------------------------------------------------------------------

    def advance(self, watermark: float) -> None:
        """Evaluate every instant up to `watermark` (event time) not yet evaluated."""
        if self._next is None:
            return
        e = self._e
        while self._next * e <= watermark:
            self._evaluate(self._next)
            self._instant = self._next
            self._next += 1

    def finish(self) -> None:
        """End of input: evaluate up to the newest event, lateness no longer needed."""
        self.advance(self._max_ts)

    def _evaluate(self, instant: int) -> None:
        at = instant * self._e
        snapshot = self._budget_every is not None and instant % self._budget_every == 0
        self.stats.evaluations += 1
        for series in self._series:
            counters = series.counters
            if counters.instant is None:
                first = counters.first_pending
                if first is None or first > instant:
                    continue
                counters.start(instant - 1)
            elif counters.idle:
                # Nothing in any window and nothing waiting: nothing can fire or change, so
                # the series sleeps (no evaluation, no snapshot) until data comes; `_catch_up`
                # moves its rings on if that data is late.
                continue
            counters.advance(instant)
            runtime = series.runtime
            good = counters.good
            total = counters.total
            started = series.started
            burning = series.burning
            min_events = runtime.min_events
            for k, spec in enumerate(runtime.rules):
                # window_trips() inlined for both windows: this runs per series per instant.
                long_total = total[spec.long]
                short_total = total[spec.short]
                short_bad = short_total - good[spec.short]
                if (short_bad > spec.allowed * short_total) is (burning[k] is None):
                    burning[k] = at if burning[k] is None else None
                    self._dirty.add(series)  # saved with the series: restarts detect alike
                holds = (
                    long_total > 0
                    and long_total >= min_events
                    and (long_total - good[spec.long]) * spec.den >= spec.num * long_total
                    and short_total > 0
                    and short_bad * spec.den >= spec.num * short_total
                )
                if holds is (started[k] is None):
                    if not holds and spec.hysteresis and self._keeps_firing(series, k, spec, at):
                        continue
                    self._transition(series, k, spec, holds, at)
                elif holds and spec.hysteresis and series.clear[k] is not None:
                    series.clear[k] = None  # burning again: the release starts over
                    self._dirty.add(series)
            if snapshot:
                self.budgets.append(self.budget_snapshot(series, at))

    def _keeps_firing(self, series: Series, k: int, spec: _RuleSpec, at: float) -> bool:
        """Hysteresis for a firing rule whose trip condition no longer holds: it stays firing
        while both windows burn at resolve_below x factor or more, and for keep_firing_for
        after they stop."""
        counters = series.counters
        good, total = counters.good, counters.total
        long_total, short_total = total[spec.long], total[spec.short]
        if (long_total > 0 and (long_total - good[spec.long]) * spec.keep_den
                >= spec.keep_num * long_total and short_total > 0
                and (short_total - good[spec.short]) * spec.keep_den >= spec.keep_num * short_total):
            if series.clear[k] is not None:
                series.clear[k] = None
                self._dirty.add(series)
            return True
        if series.clear[k] is None:
            series.clear[k] = at
            self._dirty.add(series)
        if at - series.clear[k] < spec.keep_for:  # type: ignore[operator]
            return True
        series.clear[k] = None
        return False

    def _transition(self, series: Series, k: int, spec: _RuleSpec, firing: bool, at: float) -> None:
        runtime = series.runtime
        counters = series.counters
        objective = runtime.slo.objective
        started_at = at if firing else series.started[k]
        assert started_at is not None
        series.started[k] = at if firing else None
        self._dirty.add(series)
        (self.stats.firing if firing else self.stats.resolved)[spec.rule.name] += 1
        self.alerts.append(alert_event(
            slo=runtime.slo,
            series=series.labels,
            rule=spec.rule,
            firing=firing,
            at=at,
            started_at=started_at,
            burn_long=burn_rate(counters.good[spec.long], counters.total[spec.long], objective),
            burn_short=burn_rate(counters.good[spec.short], counters.total[spec.short], objective),
            budget_remaining=self._budget_remaining(series),
            identifier=alert_id(runtime.slo.name, series.labels, spec.rule.name),
            period_bad=counters.total[runtime.period] - counters.good[runtime.period],
            burning_since=series.burning[k] if firing else None,
        ))

    @staticmethod
    def _budget_remaining(series: Series) -> float:
        runtime = series.runtime
        counters = series.counters
        period = runtime.period
        return 1.0 - burn_rate(counters.good[period], counters.total[period],
                               runtime.slo.objective)

    def budget_snapshot(self, series: Series, at: float) -> dict[str, object]:
        """The budget of one series at event time `at` (published on `sre.budgets`)."""
        runtime = series.runtime
        slo = runtime.slo
        counters = series.counters
        period = runtime.period
        return {
            "kind": "budget",
            "version": 1,
            "slo": slo.name,
            "service": slo.service,
            "series": dict(series.labels),
            "at": format_ts(at),
            "objective": slo.objective,
            "window": slo.window_label,
            "good": counters.good[period],
            "total": counters.total[period],
            "sli": sli(counters.good[period], counters.total[period]),
            "error_budget_remaining": self._budget_remaining(series),
            "burn_rates": {
                label: burn_rate(counters.good[w], counters.total[w], slo.objective)
                for w, label in enumerate(runtime.window_labels)
            },
            "firing": [
                spec.rule.name for spec, since in zip(runtime.rules, series.started, strict=True)
                if since is not None
            ],
            "labels": dict(slo.labels),
        }

    def drain(self) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
        """Take the alerts and budget snapshots collected so far."""
        alerts, budgets = self.alerts, self.budgets
        self.alerts, self.budgets = [], []
        return alerts, budgets

    # -- checkpoints -------------------------------------------------------------------

    def take_dirty(self) -> list[Series]:
        """The series changed since the last call: counted data, or a rule that moved."""
        dirty = sorted(self._dirty, key=Series.sort_key)
        self._dirty = set()
        return dirty

    def checkpoint_meta(self) -> dict[str, object]:
        """Where evaluation stands (JSON-able); with the saved series it restores the engine."""
        return {
            "instant": self._instant,
            "next": self._next,
            "max_ts": None if self._max_ts == -math.inf else self._max_ts,
            "min_ts": None if self._min_ts == math.inf else self._min_ts,
        }

    @staticmethod
    def series_state(series: Series) -> dict[str, object]:
        """One series as JSON-able data (see `restore`)."""
        return {
            "slo": series.runtime.slo.name,
            "key": list(series.key),
            "plan": series.runtime.plan.fingerprint,
            "started": list(series.started),
            "burning": list(series.burning),
            "clear": list(series.clear),
            "counters": series.counters.export(),
        }

    def restore(self, meta: Mapping[str, Any], states: Sequence[Mapping[str, Any]]) -> list[str]:
        """Load a checkpoint into this (new) engine; returns warnings for what was dropped.

        A series saved before its last checkpoint but not changed since is brought forward
        to the saved instant exactly as evaluation moved it (nothing fired or resolved in
        between, or it would have been saved again).
        """
        if self._series or self._instant is not None:
            raise RuntimeError("restore needs a new engine")
        warnings: list[str] = []
        instant = meta["instant"]
        by_name = {runtime.slo.name: runtime for runtime in self._runtimes}
        for state in states:
            runtime = by_name.get(str(state["slo"]))
            if runtime is None:
                warnings.append(f"SLO {state['slo']} is no longer defined: its saved series dropped")
                continue
            if state["plan"] != runtime.plan.fingerprint or len(state["started"]) != len(runtime.rules):
                warnings.append(f"SLO {state['slo']}: windows or rules changed, saved series "
                                f"{state['key']} starts afresh")
                continue
            key = tuple(str(part) for part in state["key"])
            series = Series(runtime, key)
            series.counters = SeriesCounters.restore(runtime.plan, state["counters"])
            series.started = [None if v is None else float(v) for v in state["started"]]
            series.burning = [None if v is None else float(v)
                              for v in state.get("burning") or series.burning]
            series.clear = [None if v is None else float(v)
                            for v in state.get("clear") or series.clear]
            if instant is not None:
                series.counters.replay_to(int(instant))
            runtime.series[key] = series
            position = bisect.bisect(self._series_keys, series.sort_key())
            self._series_keys.insert(position, series.sort_key())
            self._series.insert(position, series)
        self._instant = None if instant is None else int(instant)
        self._next = None if meta["next"] is None else int(meta["next"])
        self._max_ts = -math.inf if meta["max_ts"] is None else float(meta["max_ts"])
        self._min_ts = math.inf if meta["min_ts"] is None else float(meta["min_ts"])
        return warnings
