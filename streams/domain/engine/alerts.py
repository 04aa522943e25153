"""Alert events (contracts §5) and the maths that decides them (contracts §4)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from fractions import Fraction

import orjson

from streams.domain.slo.model import AlertRule, Slo
from streams.domain.timestamps import format_ts


def sli(good: int, total: int) -> float:
    """good/total, or 1 when there were no events."""
    return good / total if total else 1.0


def burn_rate(good: int, total: int, objective: float) -> float:
    """How fast the window spends the budget: 1 spends exactly the budget over the period."""
    if not total:
        return 0.0
    return (total - good) / total / (1.0 - objective)


def bad_ratio_threshold(rule: AlertRule, slo: Slo, share: float = 1.0) -> tuple[int, int]:
    """The bad/total ratio at which `rule` trips, as an exact fraction `(num, den)`.

    `burn_rate >= factor` is `bad/total >= factor * (1 - objective)`; comparing integers
    (`bad * den >= num * total`) keeps the decision exact at the boundary, where floats
    would make `0.003 / (1 - 0.999)` come out just under 3.
    """
    ratio = (
        Fraction(str(share)) * Fraction(str(rule.budget_percent)) / 100
        * Fraction(str(slo.window)) / Fraction(str(rule.long))
        * (1 - Fraction(str(slo.objective)))
    )
    return ratio.numerator, ratio.denominator


def window_trips(good: int, total: int, threshold: tuple[int, int]) -> bool:
    """Whether a window's burn rate is at or above the rule's factor (no events: never)."""
    return total > 0 and (total - good) * threshold[1] >= threshold[0] * total


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
) -> dict[str, object]:
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
    event: dict[str, object] = {
        "kind": "alert",
        "version": 1,
        "id": identifier or alert_id(slo.name, series, rule.name),
        "status": "firing" if firing else "resolved",
        "slo": slo.name,
        "service": slo.service,
        "series": dict(series),
        "rule": rule.name,
        "severity": rule.severity.value,
        "long_window": rule.long_label,
        "short_window": rule.short_label,
        "threshold": factor,
        "burn_rate_long": burn_long,
        "burn_rate_short": burn_short,
        "error_budget_remaining": budget_remaining,
        "at": format_ts(at),
        "started_at": format_ts(started_at),
        "labels": dict(slo.labels),
        "annotations": annotations,
    }
    if period_bad is not None:
        event["period_bad_events"] = period_bad  # bad events in the budget period at `at`
    if firing and burning_since is not None:
        # Since when the short window has burnt faster than 1x: the start of detection.
        event["burning_since"] = format_ts(burning_since)
    return event
