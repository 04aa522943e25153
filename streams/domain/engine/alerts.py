"""The maths that decides alerts and budgets (contracts §4)."""

from __future__ import annotations

from fractions import Fraction

from streams.domain.slo.model import AlertRule, Slo


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
