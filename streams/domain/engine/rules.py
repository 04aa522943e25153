"""Multiwindow burn-rate rules on one series at one instant (contracts §4), written once.

A rule trips when both its windows burn at its factor or more; with hysteresis (a lower
release threshold, or a time to keep firing) a firing rule resolves only once that release
condition has held. The decisions compare integers, so they are exact at the threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from streams.domain.engine.alerts import bad_ratio_threshold
from streams.domain.engine.counters import CounterPlan
from streams.domain.slo.model import AlertRule, Slo

if TYPE_CHECKING:
    from streams.domain.engine.series import Series


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """A rule compiled against one SLO's bucket plan."""

    rule: AlertRule
    long: int  # window indices in the plan
    short: int
    num: int  # trips when bad * den >= num * total (see bad_ratio_threshold)
    den: int
    allowed: float  # 1 - objective: the short window burns (rate > 1) when bad > allowed * total
    hysteresis: bool  # resolve below a lower threshold and/or after keep_firing_for
    keep_num: int  # while firing, still holds when bad * keep_den >= keep_num * total
    keep_den: int
    keep_for: float
    fire_after: float  # the rule's alert_after: how long the trip must hold before it fires


def rule_specs(slo: Slo, plan: CounterPlan) -> tuple[RuleSpec, ...]:
    """The rules of an SLO's policy, in policy order."""
    return tuple(
        RuleSpec(rule, plan.index(rule.long), plan.index(rule.short),
                 *bad_ratio_threshold(rule, slo), 1.0 - slo.objective,
                 rule.resolve_below is not None or rule.keep_firing_for > 0,
                 *bad_ratio_threshold(rule, slo, rule.resolve_below or 1.0),
                 rule.keep_firing_for, rule.alert_after)
        for rule in slo.policy.rules
    )


def both_windows_trip(good: Sequence[int], total: Sequence[int], spec: RuleSpec,
                      num: int, den: int) -> bool:
    """Whether the long and the short window both burn at `num/den` bad or more."""
    long_total = total[spec.long]
    short_total = total[spec.short]
    return (long_total > 0 and (long_total - good[spec.long]) * den >= num * long_total
            and short_total > 0 and (short_total - good[spec.short]) * den >= num * short_total)


@dataclass(frozen=True, slots=True)
class Transition:
    """A rule of a series starting or stopping to fire."""

    rule: int  # position in the SLO's policy
    firing: bool
    started_at: float  # when it started firing (a resolved alert repeats it)
    burning_since: float | None  # firing only: since when the short window burns over 1x


_NONE: tuple[Transition, ...] = ()


def evaluate_rules(series: Series, at: float) -> tuple[Sequence[Transition], bool]:
    """Move the rule states of a series (counters already at `at`) to instant `at`.

    Returns the transitions, in policy order, and whether any saved state changed.
    """
    runtime = series.runtime
    counters = series.counters
    good = counters.good
    total = counters.total
    started = series.started
    burning = series.burning
    min_events = runtime.min_events
    transitions: list[Transition] | None = None
    changed = False
    for k, spec in enumerate(runtime.rules):
        short_total = total[spec.short]
        if (short_total - good[spec.short] > spec.allowed * short_total) is (burning[k] is None):
            burning[k] = at if burning[k] is None else None
            changed = True  # saved with the series: restarts detect alike
        holds = (total[spec.long] >= min_events
                 and both_windows_trip(good, total, spec, spec.num, spec.den))
        if spec.fire_after:
            holds, moved = _held_long_enough(series, k, spec, holds, at)
            changed = changed or moved
        if holds is (started[k] is None):
            if not holds and spec.hysteresis:
                keeps, moved = _keeps_firing(series, k, spec, at)
                changed = changed or moved
                if keeps:
                    continue
            started_at = at if holds else started[k]
            assert started_at is not None
            started[k] = at if holds else None
            changed = True
            if transitions is None:
                transitions = []
            transitions.append(Transition(k, holds, started_at, burning[k] if holds else None))
        elif holds and spec.hysteresis and series.clear[k] is not None:
            series.clear[k] = None  # burning again: the release starts over
            changed = True
    return (_NONE if transitions is None else transitions), changed


def _held_long_enough(series: Series, k: int, spec: RuleSpec, holds: bool,
                      at: float) -> tuple[bool, bool]:
    """A minimum firing time: a rule not firing yet trips only once its condition has held
    for `fire_after` without a break. Returns (trips now, state changed)."""
    pending = series.pending
    if series.started[k] is not None:
        return holds, False  # firing already: resolution is the plain (or hysteresis) rule
    if not holds:
        moved = pending[k] is not None
        pending[k] = None
        return False, moved
    if pending[k] is None:
        pending[k] = at
        return False, True
    since = pending[k]
    assert since is not None
    if at - since < spec.fire_after:
        return False, False
    pending[k] = None
    return True, True


def _keeps_firing(series: Series, k: int, spec: RuleSpec, at: float) -> tuple[bool, bool]:
    """Hysteresis for a firing rule whose trip condition no longer holds: it stays firing
    while both windows burn at resolve_below x factor or more, and for keep_firing_for
    after they stop. Returns (still firing, state changed)."""
    counters = series.counters
    clear = series.clear
    if both_windows_trip(counters.good, counters.total, spec, spec.keep_num, spec.keep_den):
        if clear[k] is not None:
            clear[k] = None
            return True, True
        return True, False
    moved = False
    since = clear[k]
    if since is None:
        since = clear[k] = at
        moved = True
    if at - since < spec.keep_for:
        return True, moved
    clear[k] = None
    return False, moved
