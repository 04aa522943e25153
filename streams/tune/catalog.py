"""Candidate alert policies: the SLO file's own, and the SRE Workbook's strategies as data.

The Workbook ("Alerting on SLOs", chapter 5 of The Site Reliability Workbook) writes each
strategy for a 30-day budget period. For another period every window is scaled by
`period / 30d` (rounded to the evaluation interval) and every rule keeps its share of the
budget, so its burn-rate threshold stays the Workbook's: a rule that pages when 2% of a 30-day
budget burns in one hour pages when 2% of a 7-day budget burns in 14 minutes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from streams.domain.durations import format_duration
from streams.domain.slo.model import (
    BUILTIN_POLICIES,
    DAY,
    HOUR,
    MULTIWINDOW,
    AlertPolicy,
    AlertRule,
    Severity,
    Slo,
    SloFile,
)
from streams.tune.reports.humanize import factor

WORKBOOK_PERIOD = 30 * DAY
SLO_FILE, WORKBOOK = "slo-file", "workbook"


@dataclass(frozen=True, slots=True)
class Strategy:
    """One of the Workbook's alerting strategies, written for a 30-day period."""

    name: str
    title: str  # the Workbook's heading for it
    rules: tuple[AlertRule, ...]

    def policy_for(self, period: float, eval_interval: float) -> AlertPolicy:
        """The strategy for another budget period: windows scaled, budget shares kept."""
        scale = period / WORKBOOK_PERIOD
        return AlertPolicy(self.name, tuple(
            replace(rule, long=_scaled(rule.long, scale, eval_interval),
                    short=_scaled(rule.short, scale, eval_interval))
            for rule in self.rules
        ))


def _scaled(window: float, scale: float, eval_interval: float) -> float:
    return max(1, round(window * scale / eval_interval)) * eval_interval


def _single(name: str, severity: Severity, window: float, budget_percent: float) -> AlertRule:
    """A single-window rule: the engine reads it as long and short window being the same."""
    return AlertRule(name, severity, window, window, budget_percent)


_TARGET_WINDOW = 10 * 60.0

# The Workbook's strategies in its order. Its third, "incrementing alert duration" (a `for`
# clause), has no counterpart in the engine, whose rules decide at each instant alone.
STRATEGIES: tuple[Strategy, ...] = (
    # Burn rate 1 over 10 minutes: the error rate crossing the SLO's own threshold.
    Strategy("target-error-rate", "Target error rate ≥ SLO threshold", (
        _single("page", Severity.PAGE, _TARGET_WINDOW, 100 * _TARGET_WINDOW / WORKBOOK_PERIOD),)),
    Strategy("longer-window", "Increased alert window", (
        _single("page", Severity.PAGE, 36 * HOUR, 5),)),
    Strategy("burn-rate", "Alert on burn rate", (
        _single("page", Severity.PAGE, 1 * HOUR, 2),)),
    Strategy("multiple-burn-rates", "Multiple burn rate alerts", (
        _single("page-fast", Severity.PAGE, 1 * HOUR, 2),
        _single("page-slow", Severity.PAGE, 6 * HOUR, 5),
        _single("ticket", Severity.TICKET, 3 * DAY, 10),
    )),
    # As sre-streams builds it in: the Workbook's table 5-8 plus a 1d/2h ticket rule.
    Strategy("multiwindow", "Multiwindow, multi-burn-rate alerts", MULTIWINDOW.rules),
)


@dataclass(frozen=True)
class Candidate:
    """A policy to backtest, as it applies to each SLO (absent where it cannot apply)."""

    name: str
    sources: tuple[str, ...]
    description: str
    policies: Mapping[str, AlertPolicy]  # SLO name -> the policy for that SLO
    skipped: Mapping[str, str] = field(default_factory=dict)  # SLO name -> why not

    def rules_for(self, slo: Slo) -> tuple[AlertRule, ...]:
        """The rules this candidate runs for `slo`; none where it does not apply."""
        policy = self.policies.get(slo.name)
        return () if policy is None else policy.rules


def candidates(slo_file: SloFile, eval_interval: float) -> list[Candidate]:
    """The SLO file's policies, then the Workbook's strategies for each SLO's period.

    The file's policies are those it defines and the built-in ones its SLOs use. A strategy
    whose name a file policy already has is merged with it when their rules are the same for
    every SLO, and is listed as `workbook-<name>` when they differ.
    """
    used = {slo.policy.name for slo in slo_file.slos}
    own = [_from_file(name, policy, slo_file.slos, eval_interval)
           for name, policy in slo_file.policies.items()
           if name in used or BUILTIN_POLICIES.get(name) is not policy]
    by_name = {candidate.name: candidate for candidate in own}
    workbook: list[Candidate] = []
    for strategy in STRATEGIES:
        candidate = _from_strategy(strategy, slo_file.slos, eval_interval)
        twin = by_name.get(candidate.name)
        if twin is None:
            workbook.append(candidate)
        elif twin.policies == candidate.policies:
            by_name[twin.name] = replace(twin, sources=(SLO_FILE, WORKBOOK),
                                         description=f"{candidate.description}; also {twin.description}")
        else:
            workbook.append(replace(candidate, name=f"workbook-{candidate.name}"))
    return [by_name[candidate.name] for candidate in own] + workbook


def select(found: Sequence[Candidate], names: Sequence[str]) -> list[Candidate]:
    """The candidates named (all when none are); ValueError naming an unknown one."""
    if not names:
        return list(found)
    known = {candidate.name: candidate for candidate in found}
    for name in names:
        if name not in known:
            raise ValueError(f"unknown policy {name!r} (candidates: {', '.join(known)})")
    return [known[name] for name in dict.fromkeys(names)]


def describe_rules(rules: Sequence[AlertRule], period: float) -> str:
    """`page 1h/5m ≥14.4×; ticket 3d/6h ≥1×` (a single-window rule shows one window)."""
    parts = []
    for rule in rules:
        windows = rule.long_label if rule.long == rule.short else f"{rule.long_label}/{rule.short_label}"
        parts.append(f"{rule.severity.value} {windows} ≥{factor(rule.factor(period))}")
    return "; ".join(parts)


def _from_file(name: str, policy: AlertPolicy, slos: Sequence[Slo], eval_interval: float) -> Candidate:
    policies: dict[str, AlertPolicy] = {}
    skipped: dict[str, str] = {}
    for slo in slos:
        problem = _misfit(policy, slo, eval_interval)
        if problem is None:
            policies[slo.name] = policy
        else:
            skipped[slo.name] = problem
    builtin = BUILTIN_POLICIES.get(name) is policy
    return Candidate(name, (SLO_FILE,), "built-in policy" if builtin else "policy in the SLO file",
                     policies, skipped)


def _from_strategy(strategy: Strategy, slos: Sequence[Slo], eval_interval: float) -> Candidate:
    policies = {slo.name: strategy.policy_for(slo.window, eval_interval) for slo in slos}
    return Candidate(strategy.name, (WORKBOOK,), f"the Workbook's “{strategy.title}”", policies)


def _misfit(policy: AlertPolicy, slo: Slo, eval_interval: float) -> str | None:
    """Why a file policy cannot run for an SLO, if it cannot."""
    for rule in policy.rules:
        if rule.long > slo.window:
            return (f"rule {rule.name}'s long window {rule.long_label} is longer than the "
                    f"SLO's {slo.window_label} period")
        for window in (rule.long, rule.short):
            steps = window / eval_interval
            if abs(steps - round(steps)) > 1e-9:
                return (f"rule {rule.name}'s window {format_duration(window)} is not a multiple of "
                        f"the evaluation interval {format_duration(eval_interval)}")
    return None
