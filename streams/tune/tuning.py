"""The tune use case: replay the events once per distinct candidate policy, then score each.

Candidates that run the same rules for every SLO share an engine. The engine running each
SLO's configured policy also takes budget snapshots: they give the charts' burn-rate lines and
each incident's budget baseline.

Scoring starts after a warm-up: at the start of the file every window holds only the events
since that start, so a 3-day window's burn rate on the first morning is not what the rule is
written for. By default the warm-up is the longest window any candidate reads for the SLO, but
at most half of the events' time span, so that every candidate is judged on full windows where
the data allows it and something is left to score.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

from streams.domain.durations import format_duration
from streams.domain.engine.evaluation import Engine, EngineSettings, EngineStats
from streams.domain.slo.model import AlertPolicy, AlertRule, Severity, Slo, SloFile
from streams.domain.timestamps import format_ts, parse_ts
from streams.offline.replay import ReplayStats, replay
from streams.tune.catalog import Candidate
from streams.tune.incidents import LabelledIncident, SeriesLabels, series_labels
from streams.tune.recommend import Recommendation, recommend
from streams.tune.reports.humanize import duration
from streams.tune.scoring import AlertSpan, SeverityScore, SpanRecorder, score
from streams.tune.timeline import BurnTimeline
from streams.wire.budgets import BudgetSnapshot

CHART_STEP = 60.0  # event-time seconds between the burn-rate samples the charts draw
CHARTS_PER_SLO = 6

PolicyKey = tuple[tuple[AlertRule, ...], ...]  # the rules an engine runs, per SLO in file order


class TuneError(ValueError):
    """Input that leaves nothing to score."""


@dataclass(frozen=True)
class PolicyResult:
    candidate: Candidate
    rules: tuple[AlertRule, ...]  # for this SLO; empty where the candidate does not apply
    spans: tuple[AlertSpan, ...]
    scores: tuple[SeverityScore, ...]  # one per severity among the rules, page first


@dataclass(frozen=True)
class SloResult:
    slo: Slo
    incidents: tuple[LabelledIncident, ...]  # those scored: starting in the scored range
    unscored: tuple[LabelledIncident, ...]  # starting during the warm-up
    scored: tuple[float, float]  # event-time range whose alerts and incidents are scored
    policies: tuple[PolicyResult, ...]
    recommendation: Recommendation
    chart_windows: tuple[str, ...]  # the configured policy's long windows and shortest window
    timelines: Mapping[SeriesLabels, BurnTimeline]

    def charted_series(self) -> list[SeriesLabels]:
        """The series worth a chart: those with labelled incidents, then those with most alerts."""
        def weight(series: SeriesLabels) -> tuple[int, int, SeriesLabels]:
            hit = any(incident.covers(self.slo.name, series) for incident in self.incidents)
            alerts = sum(1 for policy in self.policies for span in policy.spans if span.series == series)
            return (-int(hit), -alerts, series)

        return sorted(self.timelines, key=weight)[:CHARTS_PER_SLO]


@dataclass(frozen=True)
class TuneResult:
    slos: tuple[SloResult, ...]
    candidates: tuple[Candidate, ...]
    stats: EngineStats
    replay: ReplayStats
    data: tuple[float, float]  # event time of the first and last event
    eval_interval: float
    engines: int
    warnings: tuple[str, ...]


def tune(slo_file: SloFile, events: str | Path, incidents: Sequence[LabelledIncident],
         candidates: Sequence[Candidate], *, settings: EngineSettings, stderr: TextIO,
         warm_up: float | None = None, progress: bool = True,
         catalog: Sequence[Candidate] | None = None) -> TuneResult:
    """Backtest every candidate on the events and score it against the incidents.

    `warm_up` (seconds) overrides the automatic warm-up for every SLO, which is otherwise the
    longest window of the whole `catalog` (default: the candidates), so that a candidate
    scores the same whichever others are selected.
    """
    catalog = candidates if catalog is None else catalog
    step = max(1, round(CHART_STEP / settings.eval_interval)) * settings.eval_interval
    configured: PolicyKey = tuple(slo.policy.rules for slo in slo_file.slos)
    keys = {c.name: tuple(c.rules_for(slo) for slo in slo_file.slos) for c in candidates}
    engines = {configured: _engine(slo_file, configured, replace(settings, budget_interval=step))}
    for key in keys.values():
        engines.setdefault(key, _engine(slo_file, key, replace(settings, budget_interval=None)))
    recorders = {key: SpanRecorder() for key in engines}
    charts = _ChartRecorder(slo_file.slos, incidents, step)

    def take_output() -> None:
        for key, engine in engines.items():
            alerts, budgets = engine.drain()
            recorders[key].add(alerts)
            charts.add(budgets)

    stats = replay(events, list(engines.values()), take_output, stderr=stderr,
                   progress=progress, label="tune")
    reference = engines[configured]
    first, last = reference.time_range
    if not reference.stats.samples or first is None or last is None:
        raise TuneError(f"no event in {events} was counted for an SLO of the SLO file")
    data = (first, last)
    spans = {name: recorders[key].spans for name, key in keys.items()}
    results = tuple(
        _slo_result(slo, [i for i in incidents if i.slo == slo.name], candidates, spans, charts,
                    (first + _warm_up(slo, catalog, data, warm_up), last), data[0],
                    settings.eval_interval)
        for slo in slo_file.slos
    )
    warnings = (*_outside(incidents, data), *_partial_windows(results, candidates, first))
    return TuneResult(results, tuple(candidates), reference.stats, stats, data,
                      settings.eval_interval, len(engines), warnings)


def _engine(slo_file: SloFile, key: PolicyKey, settings: EngineSettings) -> Engine:
    slos = tuple(replace(slo, policy=AlertPolicy(slo.policy.name, rules))
                 for slo, rules in zip(slo_file.slos, key, strict=True))
    return Engine(replace(slo_file, slos=slos), settings)


def _warm_up(slo: Slo, candidates: Sequence[Candidate], data: tuple[float, float],
             chosen: float | None) -> float:
    if chosen is not None:
        return min(chosen, data[1] - data[0])
    longest = max((rule.long for c in candidates for rule in c.rules_for(slo)), default=0.0)
    return min(longest, (data[1] - data[0]) / 2)


def _slo_result(slo: Slo, incidents: list[LabelledIncident], candidates: Sequence[Candidate],
                spans: Mapping[str, list[AlertSpan]], charts: _ChartRecorder,
                scored: tuple[float, float], data_start: float, eval_interval: float) -> SloResult:
    # Scored: incidents that began within the scored range (not during the warm-up, and not
    # after the last event, which no policy could see).
    counted = [incident for incident in incidents if scored[0] <= incident.start <= scored[1]]

    def burnt(incident: LabelledIncident, alert: AlertSpan) -> float | None:
        """Bad events from the incident's start to the alert, as a share of a full period's budget.

        The budget is the objective's share of the events a whole period would hold at the
        traffic rate before the incident: the Workbook's notion, where a rule with
        `budget_percent` p fires once p% of the budget is spent, however little data is in the
        period window yet.
        """
        before = charts.baselines.get((incident, alert.series))
        if before is None or alert.period_bad is None:
            return None
        at, bad, total = before
        covered = min(slo.window, at - data_start)
        if not total or covered <= 0:
            return None
        budget = (1 - slo.objective) * total / covered * slo.window
        return max(0.0, (alert.period_bad - bad) / budget)

    policies = []
    for candidate in candidates:
        rules = candidate.rules_for(slo)
        mine = tuple(span for span in spans[candidate.name] if span.slo == slo.name)
        severities = [s.value for s in Severity if any(rule.severity is s for rule in rules)]
        policies.append(PolicyResult(candidate, rules, mine, tuple(
            score(mine, counted, severity, scored=scored, burnt=burnt, known=incidents)
            for severity in severities)))
    pages = {policy.candidate.name: s for policy in policies for s in policy.scores
             if s.severity == Severity.PAGE.value}
    timelines = {series: timeline for (name, series), timeline in charts.timelines.items()
                 if name == slo.name}
    return SloResult(slo, tuple(counted), tuple(i for i in incidents if i not in counted), scored,
                     tuple(policies), recommend(pages, eval_interval=eval_interval),
                     charts.windows[slo.name], timelines)


def _partial_windows(results: Iterable[SloResult], candidates: Sequence[Candidate],
                     first: float) -> Iterable[str]:
    """Warn where windows were still filling when scoring began: they detect early, and unfairly."""
    short: dict[tuple[float, float], list[str]] = defaultdict(list)
    for result in results:
        history = result.scored[0] - first
        longest = max((rule.long for c in candidates for rule in c.rules_for(result.slo)), default=0.0)
        if history < longest:
            short[(history, longest)].append(result.slo.name)
    for (history, longest), names in short.items():
        yield (f"{', '.join(names)}: scoring starts {duration(history)} after the first event, "
               f"before the longest window ({duration(longest)}) could fill: candidates with longer "
               f"windows are judged on partial windows, which fire early; record more events for "
               f"a fair comparison")


def _outside(incidents: Iterable[LabelledIncident], data: tuple[float, float]) -> Iterable[str]:
    for incident in incidents:
        if incident.end < data[0] or incident.start > data[1]:
            yield (f"incident on line {incident.line} ({incident.slo}, {format_ts(incident.start)}) is "
                   f"outside the events' time range: no policy can alert on it")


def _chart_windows(slo: Slo) -> tuple[str, ...]:
    """The windows a chart draws: every long window of the SLO's policy and its shortest window."""
    rules = slo.policy.rules
    lengths = {rule.long for rule in rules} | {min(rule.short for rule in rules)}
    return tuple(format_duration(length) for length in sorted(lengths))


class _ChartRecorder:
    """Burn-rate timelines of every series, and each incident's budget baseline, from snapshots."""

    def __init__(self, slos: Sequence[Slo], incidents: Iterable[LabelledIncident], step: float) -> None:
        self.windows = {slo.name: _chart_windows(slo) for slo in slos}
        self.timelines: dict[tuple[str, SeriesLabels], BurnTimeline] = {}
        # (incident, series) -> (time, bad, total) of the period at the incident's start
        self.baselines: dict[tuple[LabelledIncident, SeriesLabels], tuple[float, int, int]] = {}
        self._step = step
        # Snapshots come at multiples of the step: the one of slot floor(start / step) is the
        # last taken at or before the incident's start.
        self._starting: dict[tuple[str, int], list[LabelledIncident]] = defaultdict(list)
        for incident in incidents:
            self._starting[(incident.slo, math.floor(incident.start / step))].append(incident)

    def add(self, snapshots: Iterable[BudgetSnapshot]) -> None:
        for snapshot in snapshots:
            slo = snapshot.slo
            series = series_labels(snapshot.series)
            at = parse_ts(snapshot.at)
            timeline = self.timelines.get((slo, series))
            if timeline is None:
                timeline = self.timelines[(slo, series)] = BurnTimeline(self.windows[slo], self._step)
            timeline.add(at, snapshot.burn_rates)
            for incident in self._starting.get((slo, round(at / self._step)), ()):
                if incident.covers(slo, series):
                    total = snapshot.total
                    self.baselines[(incident, series)] = (at, total - snapshot.good, total)
