"""The SLO engine: event-time watermark, evaluation instants, rules and transitions.

One `Engine` is fed decoded events in arrival order (a backtest file, or one Kafka
partition) and collects alert transitions and budget snapshots. Backtest and the live
worker run exactly this code, so they produce the same alerts at the same event times.
The engine wires its parts: `ingest` counts events, `series` holds them, `rules` decides,
`messages` builds the output and `state` saves and restores it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from streams.domain.engine.clock import EventClock
from streams.domain.engine.counters import plan_for
from streams.domain.engine.ingest import EngineStats, Ingestion
from streams.domain.engine.messages import alert_message, budget_message
from streams.domain.engine.rules import evaluate_rules
from streams.domain.engine.series import Series, SeriesRegistry, SloRuntime
from streams.domain.engine.state import encode_clock, encode_series, restore_clock, restore_series
from streams.domain.engine.typed import FieldColumns
from streams.domain.slo.model import Slo, SloFile
from streams.domain.stored import StoredState
from streams.wire.alerts import Alert
from streams.wire.budgets import BudgetSnapshot

__all__ = ["Engine", "EngineSettings", "EngineStats", "Series"]


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


class Engine:
    """Feeds events through classification, counters and rules; collects the output."""

    def __init__(self, slo_file: SloFile, settings: EngineSettings | None = None) -> None:
        self.settings = settings or EngineSettings()
        e = self.settings.eval_interval
        self._e = e
        self._budget_every = (
            None if self.settings.budget_interval is None
            else round(self.settings.budget_interval / e)
        )
        self._registry = SeriesRegistry(
            [SloRuntime(slo, i, plan_for(slo, e)) for i, slo in enumerate(slo_file.slos)])
        self._clock = EventClock(e, self.settings.lateness)
        self.stats = EngineStats()
        self.alerts: list[Alert] = []
        self.budgets: list[BudgetSnapshot] = []
        self._dirty: set[Series] = set()  # changed since the last checkpoint
        self._ingestion = Ingestion(slo_file.slos, self._registry, self._clock, self.stats,
                                    self._dirty, self.advance)

    # -- input -------------------------------------------------------------------------

    @property
    def watermark(self) -> float:
        return self._clock.watermark

    @property
    def last_instant(self) -> float | None:
        """Event time of the last evaluation, if any."""
        return self._clock.last_instant

    @property
    def time_range(self) -> tuple[float | None, float | None]:
        """Oldest and newest event time counted."""
        return self._clock.time_range

    @property
    def next_instant(self) -> int | None:
        """Index (`T / eval_interval`) of the next evaluation, if any is due."""
        return self._clock.next

    @property
    def series(self) -> list[Series]:
        return self._registry.all

    @property
    def columnar_min(self) -> int:
        """Batches this long or longer are tried column-wise."""
        return self._ingestion.columnar_min

    @columnar_min.setter
    def columnar_min(self, value: int) -> None:
        self._ingestion.columnar_min = value

    def ingest(self, event: object, not_after: float | None = None) -> None:
        """Count one decoded event, then evaluate every instant the watermark has passed.

        Raises InvalidEvent (the dead-letter reason) without counting anything.
        `not_after` rejects events stamped later than it (live mode's clock guard).
        """
        self._ingestion.ingest(event, not_after)

    def ingest_batch(self, events: Sequence[object], not_after: float | None = None,
                     fields: FieldColumns | None = None) -> list[tuple[int, str]]:
        """Ingest events in order, with exactly the effect of `ingest` on each in turn.

        Returns `(position, reason)` for each event rejected. `fields`: the same events
        decoded a field at a time (see `Ingestion.ingest_batch`).
        """
        return self._ingestion.ingest_batch(events, not_after, fields)

    @property
    def slos(self) -> tuple[Slo, ...]:
        return self._ingestion.slos

    def reject(self, reason: str) -> None:
        """Count an event that failed before decoding (bad JSON, oversized)."""
        self._ingestion.reject(reason)

    # -- evaluation --------------------------------------------------------------------

    def advance(self, watermark: float) -> None:
        """Evaluate every instant up to `watermark` (event time) not yet evaluated."""
        clock = self._clock
        if clock.next is None:
            return
        e = self._e
        while clock.next * e <= watermark:
            upcoming = self._evaluate(clock.next)
            clock.instant = clock.next
            clock.next += 1
            if upcoming is None or upcoming > clock.next:
                self._skip_to(upcoming, watermark)

    def _skip_to(self, upcoming: int | None, watermark: float) -> None:
        """Pass the instants at which nothing can happen at once: every series is idle or
        waits for data at `upcoming` (None: none waits), so evaluating them would change
        nothing and publish nothing. A clock jump over years costs O(series), not O(instants)."""
        clock, e = self._clock, self._e
        assert clock.next is not None
        last = int(watermark // e)  # the last instant the watermark has passed, exactly:
        while (last + 1) * e <= watermark:  # the loop in `advance` compares `n * e <= watermark`
            last += 1
        while last * e > watermark:
            last -= 1
        target = last + 1 if upcoming is None else min(upcoming, last + 1)
        if target > clock.next:
            self.stats.evaluations += target - clock.next  # as if evaluated, for the summaries
            clock.instant, clock.next = target - 1, target

    def finish(self) -> None:
        """End of input: evaluate up to the newest event, lateness no longer needed."""
        self.advance(self._clock.max_ts)

    def _evaluate(self, instant: int) -> int | None:
        """Evaluate every series at `instant`; returns the next instant at which anything can
        happen without new data (None: none before new data comes)."""
        at = instant * self._e
        snapshot = self._budget_every is not None and instant % self._budget_every == 0
        self.stats.evaluations += 1
        dirty = self._dirty
        upcoming: int | None = None
        for series in self._registry.all:
            counters = series.counters
            if counters.instant is None:
                first = counters.first_pending
                if first is None:
                    continue
                if first > instant:
                    upcoming = first if upcoming is None else min(upcoming, first)
                    continue
                counters.start(instant - 1)
            elif not any(counters.total):  # no events in any window
                if not counters.pending:
                    # Nothing in any window and nothing waiting: nothing can fire or change,
                    # so the series sleeps (no evaluation, no snapshot) until data comes;
                    # late data moves its rings on (`series.catch_up`).
                    continue
                first = min(counters.pending)
                if first > instant and series.quiet:
                    # Nothing in any window, its next data later: it sleeps until then, as
                    # it would with that data not yet read (live and replay alike).
                    upcoming = first if upcoming is None else min(upcoming, first)
                    continue
            upcoming = instant + 1
            counters.advance(instant)
            transitions, changed = evaluate_rules(series, at)
            if changed:
                dirty.add(series)
            for transition in transitions:
                name = series.runtime.rules[transition.rule].rule.name
                (self.stats.firing if transition.firing else self.stats.resolved)[name] += 1
                self.alerts.append(alert_message(series, transition, at))
            if snapshot:
                self.budgets.append(budget_message(series, at))
        return upcoming

    def drain(self) -> tuple[list[Alert], list[BudgetSnapshot]]:
        """Take the alerts and budget snapshots collected so far."""
        alerts, budgets = self.alerts, self.budgets
        self.alerts, self.budgets = [], []
        return alerts, budgets

    # -- checkpoints -------------------------------------------------------------------

    def take_dirty(self) -> list[Series]:
        """The series changed since the last call: counted data, or a rule that moved."""
        dirty = sorted(self._dirty, key=Series.sort_key)
        self._dirty.clear()  # the set is shared with the ingestion
        return dirty

    def checkpoint_meta(self) -> StoredState:
        """Where evaluation stands (JSON-able); with the saved series it restores the engine."""
        return encode_clock(self._clock)

    @staticmethod
    def series_state(series: Series) -> StoredState:
        """One series as JSON-able data (see `restore`)."""
        return encode_series(series)

    def restore(self, meta: StoredState, states: Sequence[StoredState]) -> list[str]:
        """Load a checkpoint into this (new) engine; returns warnings for what was dropped."""
        if self._registry.all or self._clock.instant is not None:
            raise RuntimeError("restore needs a new engine")
        restore_clock(self._clock, meta)
        return restore_series(self._registry, states, self._clock.instant)
