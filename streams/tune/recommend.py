"""The recommendation: the policy that pages on every labelled incident, with the fewest false pages.

Among the candidates that page on every incident (full recall), the best precision wins; ties
go to the fastest median detection, then to the fastest median reset, then to fewer pages a
day. Detection times within a tenth of the fastest (and at least one evaluation interval) count
as a tie: window sums are bucketed at up to a tenth of a rule's short window (contracts §4),
which for a single-window rule is a tenth of its window, so its detection time can come out
that much earlier or later depending on where the bucket boundaries fall.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from streams.domain.slo.model import Severity
from streams.tune.reports.humanize import duration, ratio
from streams.tune.scoring import SeverityScore, Spread

DETECTION_TIE = 0.1  # detection times within this share of the fastest are a tie
_PRECISION_TIE = 1e-9
_Figure = Callable[[SeverityScore], str]


@dataclass(frozen=True, slots=True)
class Recommendation:
    policy: str | None  # None: no candidate qualifies (the reasoning says why)
    reasoning: tuple[str, ...]
    severity: str = Severity.PAGE.value


def recommend(pages: Mapping[str, SeverityScore], *, eval_interval: float) -> Recommendation:
    """Choose among the candidates' page scores for one SLO (candidate name -> score)."""
    if not pages:
        return Recommendation(None, ("No candidate has a page rule for this SLO.",))
    incidents = next(iter(pages.values())).incidents
    if not incidents:
        return Recommendation(None, (
            "No labelled incidents for this SLO: precision, recall and detection time need them "
            "(--incidents).",))
    full = {name: s for name, s in pages.items() if s.detected == s.incidents}
    if not full:
        closest = max(pages, key=lambda name: (pages[name].detected, pages[name].precision or 0.0))
        return Recommendation(None, (
            f"No candidate pages on every labelled incident; the closest, {closest}, pages on "
            f"{pages[closest].detected} of {incidents}.",))
    reasons = [f"{_count(full, pages)} page on every labelled incident ({incidents}): {', '.join(full)}"
               f"{_others(pages, full, lambda s: f'recall {ratio(s.recall)}')}."]

    best = max(_precision(s) for s in full.values())
    sharp = {name: s for name, s in full.items() if _precision(s) >= best - _PRECISION_TIE}
    reasons.append(f"Best precision {ratio(best)}: {', '.join(sharp)}"
                   f"{_others(full, sharp, lambda s: f'precision {ratio(s.precision)}')}.")
    if len(sharp) > 1:
        fastest = min(_median(s.detection) for s in sharp.values())
        slack = max(eval_interval, DETECTION_TIE * fastest)
        quick = {name: s for name, s in sharp.items() if _median(s.detection) <= fastest + slack}
        reasons.append(
            f"Fastest median detection {duration(fastest)}; within a tenth of it (the engine's "
            f"window resolution): {_listing(quick, lambda s: duration(_median(s.detection)))}"
            f"{_others(sharp, quick, lambda s: f'detection {duration(_median(s.detection))}')}.")
        sharp = quick
    if len(sharp) > 1:
        # Incidents still firing at the end count against a candidate before its median reset.
        order = sorted(sharp, key=lambda name: (sharp[name].unresolved, _median(sharp[name].reset),
                                                sharp[name].per_day or 0.0, name))
        reasons.append(f"Fewest incidents still firing at the end, then fastest median reset: "
                       f"{_listing({n: sharp[n] for n in order}, _reset)}.")
        sharp = {order[0]: sharp[order[0]]}
    chosen = next(iter(sharp))
    reasons.append(f"Recommended: {chosen}.")
    return Recommendation(chosen, tuple(reasons))


def _precision(score: SeverityScore) -> float:
    return score.precision or 0.0


def _median(value: Spread | None) -> float:
    """The median, with no value sorting last (no reset time: still firing at the end)."""
    return math.inf if value is None else value.median


def _reset(score: SeverityScore) -> str:
    return "still firing at the end" if score.reset is None else duration(score.reset.median)


def _count(part: Mapping[str, SeverityScore], whole: Mapping[str, SeverityScore]) -> str:
    return f"{len(part)} of {len(whole)} candidates" if len(whole) > 1 else "The candidate"


def _listing(scores: Mapping[str, SeverityScore], figure: _Figure) -> str:
    return ", ".join(f"{name} {figure(score)}" for name, score in scores.items())


def _others(whole: Mapping[str, SeverityScore], kept: Mapping[str, SeverityScore],
            figure: _Figure) -> str:
    """` (not: a 0.50, b 0.20)` for the candidates a step left out."""
    dropped = {name: score for name, score in whole.items() if name not in kept}
    return f" (not: {_listing(dropped, figure)})" if dropped else ""
