"""Per-series good/total counters in time buckets, with running window sums (contracts §4).

Every window an SLO reads (its rules' long and short windows and the budget period) is
served by a ring of buckets of a resolution `r` (a multiple of the evaluation interval `e`):
no coarser than 1/10 of the short window of any rule that reads it, and 1/100 of the
budget period. At an evaluation instant `T` a window of length `W` covers the events with
`ceil_r(T) - W < ts <= T`: the right edge is exact, the left edge is on the bucket grid, so
the window is up to `r - e` shorter than `W` between grid points and exact on them. With
`r = e` every window is exactly `T - W < ts <= T`.

Data newer than the last evaluated instant waits in `pending`, keyed by evaluation-interval
bucket, and enters the rings only when the instant that closes its bucket is evaluated, so
what an evaluation sees never depends on the arrival order of events that were on time.
Memory is bounded by the plan (a few hundred buckets a series), never by traffic.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import Enum
from itertools import compress
from operator import or_

from streams.domain.durations import format_duration
from streams.domain.slo.calendar import Calendar
from streams.domain.slo.model import Slo
from streams.domain.stored import StoredState

MAX_BUCKETS = 100_000  # per series: a 30-day period at 10 s needs about 600
NEVER = 2**62  # an evaluation index no event time reaches
CALENDAR_GRID = 900.0  # every zone's midnight is on a 15-minute grid of UTC


class PlanError(ValueError):
    """Windows that cannot be served at the configured evaluation interval."""


class PlanTooLarge(PlanError):
    """Windows whose buckets would exceed MAX_BUCKETS a series."""


@dataclass(frozen=True, slots=True)
class TierPlan:
    """One ring of buckets of `resolution` seconds (`step` evaluation intervals each)."""

    resolution: float
    step: int
    size: int
    windows: tuple[tuple[int, int], ...]  # (window index, buckets the window covers)


@dataclass(frozen=True, slots=True)
class CounterPlan:
    eval_interval: float
    windows: tuple[float, ...]
    tiers: tuple[TierPlan, ...]
    # A calendar budget period, counted apart: in the window sums after the windows' own.
    calendar: Calendar | None = None
    # Identifies the bucket layout: saved state only fits a plan with the same one. Computed
    # once: every checkpoint stamps it on every series it writes.
    fingerprint: str = field(init=False, repr=False, compare=False)
    sizes: tuple[int, ...] = field(init=False, repr=False, compare=False)  # each tier's
    steps: tuple[int, ...] = field(init=False, repr=False, compare=False)  # each tier's
    window_range: range = field(init=False, repr=False, compare=False)  # indices of the windows

    def __post_init__(self) -> None:
        object.__setattr__(self, "fingerprint", repr((
            self.eval_interval, self.windows,
            tuple((t.resolution, t.step, t.size, t.windows) for t in self.tiers)))
            + ("" if self.calendar is None else f" {self.calendar.label}"))
        object.__setattr__(self, "sizes", tuple(tier.size for tier in self.tiers))
        object.__setattr__(self, "steps", tuple(tier.step for tier in self.tiers))
        object.__setattr__(self, "window_range", range(len(self.windows)))

    def index(self, window: float) -> int:
        return self.windows.index(window)

    @property
    def sums(self) -> int:
        """Window sums a series keeps: one per window, and one for a calendar period."""
        return len(self.windows) + (self.calendar is not None)

    @property
    def buckets(self) -> int:
        return sum(tier.size for tier in self.tiers)

    def holds(self, index: int, instant: int | None) -> bool:
        """Whether data of evaluation bucket `index` still has a bucket after `instant`."""
        if instant is None or index > instant:
            return True
        return any(
            -(-index // tier.step) > -(-instant // tier.step) - tier.size for tier in self.tiers
        )


def plan_for(slo: Slo, eval_interval: float) -> CounterPlan:
    """Bucket resolutions for every window of an SLO, as coarse as contracts §4 allows."""
    e = eval_interval
    windows = slo.windows()
    bounds: dict[float, float] = {}
    for rule in slo.policy.rules:
        for window in (rule.long, rule.short):
            bounds[window] = min(bounds.get(window, rule.short / 10), rule.short / 10)
    if slo.calendar is None:
        bounds[slo.window] = min(bounds.get(slo.window, slo.window / 100), slo.window / 100)
    elif not _is_multiple(CALENDAR_GRID, e):
        raise PlanError(f"SLO {slo.name}: a calendar period needs an evaluation interval that "
                        f"divides 15m (period starts are local midnights), got {format_duration(e)}")

    by_resolution: dict[float, list[tuple[int, int]]] = {}
    for index, window in enumerate(windows):
        if not _is_multiple(window, e):
            raise PlanError(
                f"SLO {slo.name}: window {format_duration(window)} is not a multiple of the "
                f"evaluation interval {format_duration(e)}"
            )
        steps = round(window / e)
        step = _largest_divisor(steps, max(1, int(bounds[window] // e)))
        resolution = step * e
        by_resolution.setdefault(resolution, []).append((index, steps // step))

    tiers = tuple(
        TierPlan(resolution, round(resolution / e), max(n for _, n in members),
                 tuple(members))
        for resolution, members in sorted(by_resolution.items())
    )
    plan = CounterPlan(e, windows, tiers, slo.calendar)
    if plan.buckets > MAX_BUCKETS:
        raise PlanTooLarge(
            f"SLO {slo.name}: its windows need {plan.buckets:,} buckets a series at the "
            f"evaluation interval {format_duration(e)} (at most {MAX_BUCKETS:,}): use windows "
            f"that are round multiples of their hundredth (e.g. 30d, 28d, 7d)")
    return plan


def _largest_divisor(n: int, at_most: int) -> int:
    """The largest divisor of `n` not above `at_most`, in O(sqrt(n)) (a step down from
    `at_most` one at a time took seconds for a window of prime length)."""
    if at_most >= n:
        return n
    best = 1
    d = 1
    while d * d <= n:
        if n % d == 0:
            for candidate in (d, n // d):
                if best < candidate <= at_most:
                    best = candidate
        d += 1
    return best


def _is_multiple(value: float, unit: float) -> bool:
    ratio = value / unit
    return abs(ratio - round(ratio)) < 1e-9 and round(ratio) >= 1


class Placement(Enum):
    """Where a count went: waiting for its instant, into held buckets late, or nowhere."""

    PENDING = "pending"
    LATE = "late"
    TOO_OLD = "too old"


def _window_sum(ring: list[int], head: int, n: int) -> int:
    """The sum of the `n` buckets of a ring up to bucket `head` (slices: summed in C)."""
    size = len(ring)
    assert n <= size
    end = head % size + 1
    begin = end - n
    return sum(ring[begin:end]) if begin >= 0 else sum(ring[begin:]) + sum(ring[:end])


class SeriesCounters:
    """Bucket rings and window sums of one series.

    `instant` is the last evaluated index (`T / e`), or None until the series is started at
    the instant before its first data, so a new series never evaluates empty instants.
    """

    __slots__ = ("good", "heads", "instant", "moves_at", "pending", "period", "plan",
                 "ring_good", "ring_total", "total")

    def __init__(self, plan: CounterPlan, instant: int | None = None) -> None:
        self.plan = plan
        self.instant: int | None = None
        self.heads: list[int] = []
        self.moves_at = 0  # the first instant at which a head moves (`_moved`)
        self.ring_good = [[0] * tier.size for tier in plan.tiers]
        self.ring_total = [[0] * tier.size for tier in plan.tiers]
        self.good = [0] * plan.sums
        self.total = [0] * plan.sums
        self.pending: dict[int, list[int]] = {}
        # A calendar period: (start, end) evaluation indices, its events in good/total[-1].
        # Without one, an empty range no index reaches: the hot paths test only the range.
        self.period = (0, -1) if plan.calendar is not None else (NEVER, NEVER)
        if instant is not None:
            self.start(instant)

    def start(self, instant: int) -> None:
        """Begin evaluating after `instant`; data already waiting at or before it is applied."""
        self.instant = instant
        self.heads = [-(-instant // tier.step) for tier in self.plan.tiers]
        self._moved()
        if self.plan.calendar is not None:
            self._new_period(instant)
        for index in sorted(i for i in self.pending if i <= instant):
            good, total = self.pending.pop(index)
            self._apply(index, good, total)

    @property
    def first_pending(self) -> int | None:
        return min(self.pending) if self.pending else None

    def add(self, index: int, good: int, total: int) -> Placement:
        """Count `good`/`total` events of the evaluation bucket `index` (ts in ((index-1)e, index*e])."""
        if self.instant is None or index > self.instant:
            slot = self.pending.get(index)
            if slot is None:
                self.pending[index] = [good, total]
            else:
                slot[0] += good
                slot[1] += total
            return Placement.PENDING
        return Placement.LATE if self._apply(index, good, total) else Placement.TOO_OLD

    def advance(self, instant: int) -> None:
        """Move to evaluation index `instant`: expire old buckets, apply the closed one."""
        if instant >= self.moves_at:  # most instants move no head (a bucket spans several)
            self._move_heads(instant)
        self.instant = instant
        if instant > self.period[1]:
            self._new_period(instant)
        if self.pending:
            closed = self.pending.pop(instant, None)
            if closed is not None:
                self._apply_closed(instant, closed[0], closed[1])

    def _moved(self) -> None:
        """A head moves at the first instant past its bucket (`-(-instant // step)` grows)."""
        self.moves_at = min(head * step + 1
                            for head, step in zip(self.heads, self.plan.steps, strict=True))

    def _move_heads(self, instant: int) -> None:
        for t, tier in enumerate(self.plan.tiers):
            head = self.heads[t]
            target = -(-instant // tier.step)
            if target == head:
                continue
            ring_good = self.ring_good[t]
            ring_total = self.ring_total[t]
            size = tier.size
            if target - head >= size:
                for w, _ in tier.windows:
                    self.good[w] = 0
                    self.total[w] = 0
                ring_good[:] = [0] * size
                ring_total[:] = [0] * size
            else:
                for bucket in range(head + 1, target + 1):
                    for w, n in tier.windows:
                        slot = (bucket - n) % size
                        self.good[w] -= ring_good[slot]
                        self.total[w] -= ring_total[slot]
                    slot = bucket % size
                    ring_good[slot] = 0
                    ring_total[slot] = 0
            self.heads[t] = target
        self._moved()

    def _new_period(self, instant: int) -> None:
        """Start the calendar period holding evaluation index `instant`: its budget is whole."""
        assert self.plan.calendar is not None
        e = self.plan.eval_interval
        start, end = self.plan.calendar.bounds(instant * e)
        self.period = (round(start / e), round(end / e))
        self.good[-1] = 0
        self.total[-1] = 0

    def _apply_closed(self, instant: int, good: int, total: int) -> None:
        """`_apply` of the bucket just closed (`instant`, the heads just moved to it): it is
        every tier's head bucket, inside every window. The common case of evaluation, so it
        skips the bucket arithmetic."""
        heads, ring_good, ring_total = self.heads, self.ring_good, self.ring_total
        for t, size in enumerate(self.plan.sizes):
            slot = heads[t] % size
            ring_good[t][slot] += good
            ring_total[t][slot] += total
        sums_good, sums_total = self.good, self.total
        for w in self.plan.window_range:
            sums_good[w] += good
            sums_total[w] += total
        if self.period[0] < instant <= self.period[1]:
            sums_good[-1] += good
            sums_total[-1] += total

    def _apply(self, index: int, good: int, total: int) -> bool:
        held = False
        for t, tier in enumerate(self.plan.tiers):
            bucket = -(-index // tier.step)
            head = self.heads[t]
            if bucket <= head - tier.size:
                continue
            held = True
            slot = bucket % tier.size
            self.ring_good[t][slot] += good
            self.ring_total[t][slot] += total
            for w, n in tier.windows:
                if bucket > head - n:
                    self.good[w] += good
                    self.total[w] += total
        if held and self.period[0] < index <= self.period[1]:
            self.good[-1] += good
            self.total[-1] += total
        return held

    # -- checkpoints ---------------------------------------------------------------------

    def export(self) -> StoredState:
        """The state as plain JSON-able data (rings sparse: only buckets holding events)."""
        state: StoredState = {
            "instant": self.instant,
            "heads": list(self.heads),
            # Written after every batch for each series it touched: the slots holding events
            # are picked out in C (`good | total` is 0 only when both are).
            "rings": [
                [[slot, ring_good[slot], ring_total[slot]]
                 for slot in compress(range(len(ring_total)), map(or_, ring_good, ring_total))]
                for ring_good, ring_total in zip(self.ring_good, self.ring_total, strict=True)
            ],
            "pending": [[index, good, total] for index, (good, total) in sorted(self.pending.items())],
        }
        if self.plan.calendar is not None:
            state["period"] = [*self.period, self.good[-1], self.total[-1]]
        return state

    @classmethod
    def restore(cls, plan: CounterPlan, state: StoredState) -> SeriesCounters:
        """Counters equal to those `export` saved (window sums recomputed from the rings)."""
        counters = cls(plan)
        instant = state["instant"]
        counters.instant = None if instant is None else int(instant)
        counters.heads = [int(h) for h in state["heads"]]
        if counters.heads:
            counters._moved()
        for t, entries in enumerate(state["rings"]):
            if entries:  # the slots set in C (10,000 series restore in about a second)
                slots, goods, totals = zip(*entries, strict=True)
                deque(map(counters.ring_good[t].__setitem__, slots, goods), maxlen=0)
                deque(map(counters.ring_total[t].__setitem__, slots, totals), maxlen=0)
        counters.pending = {int(index): [good, total] for index, good, total in state["pending"]}
        if counters.instant is not None:
            for t, tier in enumerate(plan.tiers):
                head = counters.heads[t]
                for w, n in tier.windows:
                    counters.good[w] = _window_sum(counters.ring_good[t], head, n)
                    counters.total[w] = _window_sum(counters.ring_total[t], head, n)
        if plan.calendar is not None and "period" in state:
            start, end, good, total = state["period"]
            counters.period = (int(start), int(end))
            counters.good[-1], counters.total[-1] = int(good), int(total)
        return counters

    def replay_to(self, instant: int) -> None:
        """Evaluate the counts forward to `instant` as the engine would have (no rules)."""
        while True:
            if self.instant is None:
                first = self.first_pending
                if first is None or first > instant:
                    return
                self.start(first - 1)
            assert self.instant is not None
            due = [index for index in self.pending if self.instant < index <= instant]
            if not due:
                if self.instant < instant:
                    self.advance(instant)
                return
            self.advance(min(due))
