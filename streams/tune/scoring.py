"""Scores of an alert policy against labelled incidents, as the SRE Workbook compares strategies.

Per severity: precision is the share of alerts whose firing span overlapped a labelled
incident of their SLO series; recall the share of incidents that got at least one such alert;
detection time runs from an incident's start to its first alert (0 when one was already
firing); reset time from its end until the last of its alerts resolved.

Only what happens in the scored time range counts: before it, windows were still filling with
the first events of the file, so burn rates did not mean what the rules are written for.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from msgspec import UNSET

from streams.domain.slo.model import DAY
from streams.domain.timestamps import parse_ts
from streams.tune.incidents import LabelledIncident, SeriesLabels, series_labels
from streams.wire.alerts import Alert

BudgetBurnt = Callable[[LabelledIncident, "AlertSpan"], float | None]


@dataclass(frozen=True, slots=True)
class AlertSpan:
    """One alert from firing to resolved."""

    slo: str
    series: SeriesLabels
    rule: str
    severity: str
    start: float
    end: float | None  # None: still firing when the data ended
    period_bad: int | None  # bad events in the series' budget period when it fired

    def overlaps(self, incident: LabelledIncident, data_end: float) -> bool:
        """Firing at some time in the incident: [fire, resolve) meets [start, end]; an alert
        still firing when the data ended counts as firing until then, not beyond."""
        if not incident.covers(self.slo, self.series) or self.start > incident.end:
            return False
        if self.end is None:
            return incident.start <= data_end
        return self.end > incident.start


class SpanRecorder:
    """Pairs the firing and resolved alert events (contracts §5) of one engine into spans."""

    def __init__(self) -> None:
        self.spans: list[AlertSpan] = []
        self._open: dict[str, int] = {}

    def add(self, alerts: Iterable[Alert]) -> None:
        for alert in alerts:
            at = parse_ts(alert.at)
            if alert.firing:
                self._open[alert.id] = len(self.spans)
                bad = alert.period_bad_events
                self.spans.append(AlertSpan(alert.slo, series_labels(alert.series),
                                            alert.rule, alert.severity, at, None,
                                            None if bad is UNSET else bad))
            else:
                index = self._open.pop(alert.id)
                self.spans[index] = replace(self.spans[index], end=at)


@dataclass(frozen=True, slots=True)
class Spread:
    median: float
    worst: float


def spread(values: Sequence[float]) -> Spread | None:
    return Spread(statistics.median(values), max(values)) if values else None


@dataclass(frozen=True, slots=True)
class SeverityScore:
    severity: str
    alerts: int
    warm_up_alerts: int  # fired before the scored range: not in any figure
    per_day: float | None  # None: the scored range spans no time
    precision: float | None  # None: no alerts
    recall: float | None  # None: no labelled incidents
    incidents: int
    detected: int
    detection: Spread | None  # seconds from incident start to the first alert
    reset: Spread | None  # seconds from incident end to the last resolve
    unresolved: int  # detected incidents whose alerts were still firing at the end
    firing_seconds: float  # time any alert of the severity fired, per series, added up
    budget_before_detection: Spread | None  # share of the period's error budget burnt by then


def score(spans: Sequence[AlertSpan], incidents: Sequence[LabelledIncident], severity: str, *,
          scored: tuple[float, float], burnt: BudgetBurnt,
          known: Sequence[LabelledIncident] | None = None) -> SeverityScore:
    """Score the alerts of one severity fired in the `scored` time range against the incidents.

    `incidents` are those scored for recall and detection; `known` (default: the same) are
    every labelled incident, so that an alert on one that began during the warm-up is not a
    false positive. An alert fired during the warm-up and still firing detects an incident.
    `burnt(incident, first_alert)` is the share of the error budget spent from the incident's
    start until that alert, or None where it cannot be told.
    """
    severe = [span for span in spans if span.severity == severity]
    mine = [span for span in severe if span.start >= scored[0]]
    known = incidents if known is None else known
    detections: list[float] = []
    resets: list[float] = []
    spent: list[float] = []
    unresolved = 0
    for incident in incidents:
        hits = [span for span in severe if span.overlaps(incident, scored[1])]
        if not hits:
            continue
        first = min(hits, key=lambda span: span.start)
        detections.append(max(0.0, first.start - incident.start))
        share = burnt(incident, first)
        if share is not None:
            spent.append(share)
        ends = [span.end for span in hits if span.end is not None]
        if len(ends) < len(hits):
            unresolved += 1
        else:
            resets.append(max(0.0, max(ends) - incident.end))
    relevant = sum(1 for span in mine
                   if any(span.overlaps(incident, scored[1]) for incident in known))
    days = (scored[1] - scored[0]) / DAY
    return SeverityScore(
        severity=severity,
        alerts=len(mine),
        warm_up_alerts=sum(1 for span in spans if span.severity == severity) - len(mine),
        per_day=len(mine) / days if days > 0 else None,
        precision=relevant / len(mine) if mine else None,
        recall=len(detections) / len(incidents) if incidents else None,
        incidents=len(incidents),
        detected=len(detections),
        detection=spread(detections),
        reset=spread(resets),
        unresolved=unresolved,
        firing_seconds=_firing_seconds(mine, scored[1]),
        budget_before_detection=spread(spent),
    )


def _firing_seconds(spans: Sequence[AlertSpan], data_end: float) -> float:
    """Time firing, per series (overlapping rules counted once), added up over the series."""
    by_series: dict[SeriesLabels, list[tuple[float, float]]] = defaultdict(list)
    for span in spans:
        by_series[span.series].append((span.start, data_end if span.end is None else span.end))
    total = 0.0
    for intervals in by_series.values():
        reach = -math.inf
        for start, end in sorted(intervals):
            total += max(0.0, end - max(start, reach))
            reach = max(reach, end)
    return total
