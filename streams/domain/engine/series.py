"""The series registry: every SLO's series, in one stable order, with the cardinality guard."""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from streams.domain.durations import format_duration
from streams.domain.engine.classify import OTHER, SeriesKey
from streams.domain.engine.counters import CounterPlan, SeriesCounters
from streams.domain.engine.rules import RuleSpec, rule_specs
from streams.domain.slo.model import Slo


class SloRuntime:
    """One SLO as the engine runs it: its bucket plan, compiled rules and series."""

    __slots__ = ("allowed", "index", "min_events", "period", "plan", "rules", "series",
                 "slo", "window_label", "window_labels")

    def __init__(self, slo: Slo, index: int, plan: CounterPlan) -> None:
        self.slo = slo
        self.index = index
        self.plan = plan
        self.min_events = slo.min_events
        # The budget period's sums: the rolling window's, or the calendar period's (last).
        self.period = plan.index(slo.window) if slo.calendar is None else len(plan.windows)
        self.rules: tuple[RuleSpec, ...] = rule_specs(slo, plan)
        self.window_labels = tuple(format_duration(w) for w in plan.windows)
        self.window_label = slo.window_label  # the budget period's
        self.allowed = 1.0 - slo.objective  # the bad share the budget allows (burn rate 1)
        self.series: dict[SeriesKey, Series] = {}


class Series:
    """One SLO series: its counters, which rules are firing since when, and since when each
    rule's short window has burnt faster than 1x (for time to detect)."""

    __slots__ = ("burning", "clear", "counters", "key", "labels", "pending", "runtime", "started")

    def __init__(self, runtime: SloRuntime, key: SeriesKey,
                 counters: SeriesCounters | None = None) -> None:
        self.runtime = runtime
        self.key = key
        self.labels = dict(zip(runtime.slo.group_by, key, strict=True))
        self.counters = SeriesCounters(runtime.plan) if counters is None else counters
        self.started: list[float | None] = [None] * len(runtime.rules)
        self.burning: list[float | None] = [None] * len(runtime.rules)
        # Hysteresis: since when a firing rule's release condition has held (None: not now).
        self.clear: list[float | None] = [None] * len(runtime.rules)
        # alert_after: since when a rule not yet firing has held its trip condition.
        self.pending: list[float | None] = [None] * len(runtime.rules)

    @property
    def slo(self) -> Slo:
        return self.runtime.slo

    @property
    def quiet(self) -> bool:
        """No rule firing, burning or releasing: empty windows leave every rule as it is."""
        return all(at is None for at in (*self.started, *self.burning, *self.clear,
                                         *self.pending))

    def sort_key(self) -> tuple[int, SeriesKey]:
        return (self.runtime.index, self.key)


class SeriesRegistry:
    """The runtimes of an SLO file and all their series, ordered by SLO position then key."""

    __slots__ = ("_keys", "all", "runtimes")

    def __init__(self, runtimes: Sequence[SloRuntime]) -> None:
        self.runtimes = list(runtimes)
        self.all: list[Series] = []  # evaluation order: never depends on arrival order
        self._keys: list[tuple[int, SeriesKey]] = []

    def new_series(self, runtime: SloRuntime, key: SeriesKey) -> Series:
        """A new series of `key`, or the overflow series once the SLO is at `max_series`."""
        slo = runtime.slo
        if len(runtime.series) >= slo.max_series and slo.group_by:
            key = tuple(OTHER for _ in slo.group_by)
            existing = runtime.series.get(key)
            if existing is not None:
                return existing
        # Not started here: a series joins the evaluations at the instant before its first
        # data, so when it was created (which depends on arrival order) never shows.
        series = Series(runtime, key)
        self.add(series)
        return series

    def add(self, series: Series) -> None:
        """Register a series built elsewhere (a restored one)."""
        series.runtime.series[series.key] = series
        position = bisect.bisect(self._keys, series.sort_key())
        self._keys.insert(position, series.sort_key())
        self.all.insert(position, series)

    def by_name(self) -> dict[str, SloRuntime]:
        return {runtime.slo.name: runtime for runtime in self.runtimes}


def catch_up(series: Series, instant: int | None) -> None:
    """Bring a series that was never started, or sleeps, to the last instant."""
    if instant is None:
        return
    counters = series.counters
    if counters.instant is None:
        counters.start(instant)
    elif counters.instant < instant:
        counters.advance(instant)  # a sleeping series has nothing pending
