"""The engine's output messages: alert events (contracts §5) and budget snapshots.

Every message the engine emits is built here, as the wire type of its topic. Budgets are
built once per series per budget interval and alerts only on transitions, never per event.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import orjson
from msgspec import UNSET

from streams.domain.engine.alerts import burn_rate
from streams.domain.engine.rules import Transition
from streams.domain.engine.series import Series
from streams.domain.slo.model import AlertRule, Slo
from streams.domain.timestamps import format_ts
from streams.wire.alerts import Alert
from streams.wire.budgets import BudgetSnapshot


def alert_id(slo: str, series: Mapping[str, str], rule: str) -> str:
    """Stable dedup key of one rule on one series of one SLO."""
    canonical = orjson.dumps([slo, series, rule], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()[:24]


def alert_event(
    *,
    slo: Slo,
    series: Mapping[str, str],
    rule: AlertRule,
    firing: bool,
    at: float,
    started_at: float,
    burn_long: float,
    burn_short: float,
    budget_remaining: float,
    identifier: str | None = None,
    period_bad: int | None = None,
    burning_since: float | None = None,
) -> Alert:
    """The alert event of one transition, as published on `sre.alerts`."""
    factor = rule.factor(slo.window)
    where = ", ".join(f"{k}={v}" for k, v in series.items())
    subject = f"{slo.name} ({where})" if where else slo.name
    if firing:
        summary = (
            f"{subject} is burning its error budget {burn_long:.1f}x over {rule.long_label} and "
            f"{burn_short:.1f}x over {rule.short_label} (threshold {factor:g}x)"
        )
    else:
        summary = f"{subject} is no longer burning its error budget at {factor:g}x"
    annotations = {"summary": summary}
    if slo.runbook_url:
        annotations["runbook_url"] = slo.runbook_url
    return Alert(
        id=identifier or alert_id(slo.name, series, rule.name),
        status="firing" if firing else "resolved",
        slo=slo.name,
        service=slo.service,
        series=dict(series),
        rule=rule.name,
        severity=rule.severity.value,
        long_window=rule.long_label,
        short_window=rule.short_label,
        threshold=factor,
        burn_rate_long=burn_long,
        burn_rate_short=burn_short,
        error_budget_remaining=budget_remaining,
        at=format_ts(at),
        started_at=format_ts(started_at),
        labels=dict(slo.labels),
        annotations=annotations,
        # bad events in the budget period at `at`
        period_bad_events=UNSET if period_bad is None else period_bad,
        # Since when the short window has burnt faster than 1x: the start of detection.
        burning_since=(format_ts(burning_since) if firing and burning_since is not None
                       else UNSET),
    )


def alert_message(series: Series, transition: Transition, at: float) -> Alert:
    """The alert event of a transition of one rule of a series at instant `at`."""
    runtime = series.runtime
    counters = series.counters
    spec = runtime.rules[transition.rule]
    objective = runtime.slo.objective
    return alert_event(
        slo=runtime.slo,
        series=series.labels,
        rule=spec.rule,
        firing=transition.firing,
        at=at,
        started_at=transition.started_at,
        burn_long=burn_rate(counters.good[spec.long], counters.total[spec.long], objective),
        burn_short=burn_rate(counters.good[spec.short], counters.total[spec.short], objective),
        budget_remaining=budget_remaining(series),
        identifier=alert_id(runtime.slo.name, series.labels, spec.rule.name),
        period_bad=counters.total[runtime.period] - counters.good[runtime.period],
        burning_since=transition.burning_since,
    )


def budget_remaining(series: Series) -> float:
    """The error budget left over the SLO's period (negative once overspent)."""
    runtime = series.runtime
    counters = series.counters
    period = runtime.period
    return 1.0 - burn_rate(counters.good[period], counters.total[period], runtime.slo.objective)


def budget_message(series: Series, at: float) -> BudgetSnapshot:
    """The budget of one series at event time `at` (published on `sre.budgets`).

    Once per series per budget interval, so written out: `burn_rate`'s arithmetic inline
    (the same operations, so the same floats) and the SLO's fixed parts taken from its runtime."""
    runtime = series.runtime
    slo = runtime.slo
    counters = series.counters
    goods, totals = counters.good, counters.total
    period = runtime.period
    allowed = runtime.allowed
    good, total = goods[period], totals[period]
    return BudgetSnapshot(
        slo=slo.name,
        service=slo.service,
        series=dict(series.labels),
        at=format_ts(at),
        objective=slo.objective,
        window=runtime.window_label,
        good=good,
        total=total,
        sli=good / total if total else 1.0,
        error_budget_remaining=1.0 - ((total - good) / total / allowed if total else 0.0),
        burn_rates={label: (t - g) / t / allowed if t else 0.0
                    # the windows' sums come first (a calendar period's is after them)
                    for label, g, t in zip(runtime.window_labels, goods, totals, strict=False)},
        firing=[
            spec.rule.name for spec, since in zip(runtime.rules, series.started, strict=True)
            if since is not None
        ],
        labels=dict(slo.labels),
        period_start=UNSET if slo.calendar is None else period_bound(series, 0),
        period_end=UNSET if slo.calendar is None else period_bound(series, 1),
    )


def period_bound(series: Series, which: int) -> str:
    """The start (0) or end (1) of the calendar period a series' budget counts."""
    return format_ts(series.counters.period[which] * series.runtime.plan.eval_interval)
