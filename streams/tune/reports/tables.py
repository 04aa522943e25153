"""The report's tables as rows of text cells, shared by the Markdown and HTML reports."""

from __future__ import annotations

from collections.abc import Callable

from streams.domain.slo.model import Severity
from streams.tune.catalog import SLO_FILE, WORKBOOK, describe_rules
from streams.tune.reports.humanize import duration, percent, rate, ratio
from streams.tune.scoring import SeverityScore, Spread
from streams.tune.tuning import SloResult

SCORE_HEADER = ("policy", "alerts", "per day", "precision", "recall", "detection (worst)",
                "reset (worst)", "firing", "budget spent before detection (worst)")
SCORE_NUMERIC = frozenset({1, 2, 3, 4})  # columns aligned right
CANDIDATE_HEADER = ("policy", "from", "rules for this SLO")
_SOURCES = {SLO_FILE: "SLO file", WORKBOOK: "SRE Workbook"}
SEVERITY_TITLES = {Severity.PAGE.value: "Pages", Severity.TICKET.value: "Tickets"}


def severities(result: SloResult) -> list[str]:
    """The severities some candidate alerts with for this SLO, pages first."""
    present = {score.severity for policy in result.policies for score in policy.scores}
    return [s.value for s in Severity if s.value in present]


def score_rows(result: SloResult, severity: str) -> list[tuple[str, ...]]:
    rows = []
    for policy in result.policies:
        for score in policy.scores:
            if score.severity == severity:
                rows.append(_score_row(_policy_label(policy.candidate.name, result), score))
    return rows


def _score_row(name: str, score: SeverityScore) -> tuple[str, ...]:
    recall = "—" if score.recall is None else f"{ratio(score.recall)} ({score.detected}/{score.incidents})"
    reset = _spread(score.reset, duration)
    if score.unresolved:
        reset = f"{reset}; {score.unresolved} still firing" if score.reset else "still firing at the end"
    return (name, str(score.alerts), rate(score.per_day), ratio(score.precision), recall,
            _spread(score.detection, duration), reset, duration(score.firing_seconds),
            _spread(score.budget_before_detection, percent))


def candidate_rows(result: SloResult) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for policy in result.policies:
        candidate = policy.candidate
        sources = ", ".join(_SOURCES[source] for source in candidate.sources)
        skipped = candidate.skipped.get(result.slo.name)
        rules = (describe_rules(policy.rules, result.slo.window) if policy.rules
                 else f"not applicable: {skipped}")
        rows.append((_policy_label(candidate.name, result), sources, rules))
    return rows


def _policy_label(name: str, result: SloResult) -> str:
    return f"{name} (configured)" if name == result.slo.policy.name else name


def _spread(value: Spread | None, show: Callable[[float], str]) -> str:
    return "—" if value is None else f"{show(value.median)} ({show(value.worst)})"
