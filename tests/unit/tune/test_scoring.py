"""Scoring alert spans against labelled incidents, and choosing a policy (streams.tune)."""

from __future__ import annotations

from typing import Any

import pytest

from streams.tune.incidents import LabelledIncident
from streams.tune.recommend import recommend
from streams.tune.scoring import AlertSpan, SeverityScore, SpanRecorder, Spread, score
from streams.tune.timeline import BurnTimeline
from streams.wire.alerts import Alert

HOUR, DAY = 3600.0, 86400.0
EU, US = (("region", "eu"),), (("region", "us"),)


def span(start: float, end: float | None, severity: str = "page", series: tuple[tuple[str, str], ...] = EU,
         period_bad: int | None = None) -> AlertSpan:
    return AlertSpan("api", series, "rule", severity, start, end, period_bad)


def scored(spans: list[AlertSpan], incidents: list[LabelledIncident], severity: str = "page",
           scored_from: float = 0.0) -> SeverityScore:
    return score(spans, incidents, severity, scored=(scored_from, 2 * DAY), burnt=lambda i, a: None)


INCIDENT = LabelledIncident("api", 10 * HOUR, 11 * HOUR)


def test_an_alert_counts_when_its_span_overlaps_an_incident() -> None:
    result = scored([span(10.1 * HOUR, 11.2 * HOUR), span(3 * HOUR, 3.1 * HOUR)], [INCIDENT])
    assert (result.alerts, result.precision, result.recall) == (2, 0.5, 1.0)


def test_detection_runs_from_the_incident_start_to_the_first_alert() -> None:
    result = scored([span(10.5 * HOUR, 12 * HOUR), span(10.2 * HOUR, 10.4 * HOUR)], [INCIDENT])
    assert result.detection == Spread(0.2 * HOUR, 0.2 * HOUR)


def test_an_alert_already_firing_detects_at_once() -> None:
    result = scored([span(9 * HOUR, 10.5 * HOUR)], [INCIDENT])
    assert result.detection == Spread(0.0, 0.0) and result.precision == 1.0


def test_reset_runs_from_the_incident_end_to_the_last_resolve() -> None:
    result = scored([span(10.1 * HOUR, 11.25 * HOUR), span(10.2 * HOUR, 11.5 * HOUR)], [INCIDENT])
    assert result.reset == Spread(0.5 * HOUR, 0.5 * HOUR)


def test_an_alert_still_firing_at_the_end_has_no_reset_time() -> None:
    result = scored([span(10.1 * HOUR, None)], [INCIDENT])
    assert result.reset is None and result.unresolved == 1
    assert result.firing_seconds == pytest.approx(2 * DAY - 10.1 * HOUR)


def test_an_incident_without_a_matching_alert_is_missed() -> None:
    other = LabelledIncident("api", 30 * HOUR, 31 * HOUR)
    result = scored([span(10.1 * HOUR, 10.5 * HOUR)], [INCIDENT, other])
    assert (result.recall, result.detected, result.incidents) == (0.5, 1, 2)


def test_an_incident_on_one_series_is_not_detected_by_another_series() -> None:
    eu_only = LabelledIncident("api", 10 * HOUR, 11 * HOUR, series=EU)
    result = scored([span(10.1 * HOUR, 10.5 * HOUR, series=US)], [eu_only])
    assert (result.recall, result.precision) == (0.0, 0.0)


def test_an_incident_without_series_covers_every_series() -> None:
    result = scored([span(10.1 * HOUR, 10.5 * HOUR, series=US)], [INCIDENT])
    assert result.recall == 1.0


def test_only_the_asked_severity_is_scored() -> None:
    result = scored([span(10.1 * HOUR, 10.5 * HOUR, severity="ticket")], [INCIDENT])
    assert (result.alerts, result.precision, result.recall) == (0, None, 0.0)


def test_no_incidents_leaves_recall_undefined_and_every_alert_noise() -> None:
    result = scored([span(1 * HOUR, 2 * HOUR)], [])
    assert (result.recall, result.precision, result.detection) == (None, 0.0, None)


def test_alerts_before_the_scored_range_are_counted_apart() -> None:
    result = scored([span(1 * HOUR, 2 * HOUR), span(10.1 * HOUR, 10.5 * HOUR)], [INCIDENT],
                    scored_from=5 * HOUR)
    assert (result.alerts, result.warm_up_alerts, result.precision) == (1, 1, 1.0)
    assert result.per_day == pytest.approx(1 / ((2 * DAY - 5 * HOUR) / DAY))


def test_firing_time_counts_overlapping_rules_of_a_series_once() -> None:
    spans = [span(1 * HOUR, 3 * HOUR), span(2 * HOUR, 4 * HOUR), span(2 * HOUR, 3 * HOUR, series=US)]
    assert scored(spans, []).firing_seconds == pytest.approx(3 * HOUR + 1 * HOUR)


def test_budget_spent_is_taken_at_the_first_alert() -> None:
    spans = [span(10.3 * HOUR, 11 * HOUR, period_bad=30), span(10.1 * HOUR, 11 * HOUR, period_bad=20)]
    result = score(spans, [INCIDENT], "page", scored=(0.0, DAY),
                   burnt=lambda incident, alert: (alert.period_bad or 0) / 1000)
    assert result.budget_before_detection == Spread(0.02, 0.02)


def alert(**fields: Any) -> Alert:
    """An alert event with the fields the recorder reads; the others neutral."""
    return Alert(**{"long_window": "1h", "short_window": "5m", "threshold": 14.4,
                    "burn_rate_long": 20.0, "burn_rate_short": 20.0, "started_at": fields["at"],
                    "service": "api", "labels": {}, "annotations": {}, **fields})


def test_span_recorder_pairs_firing_and_resolved_events() -> None:
    recorder = SpanRecorder()
    base = {"slo": "api", "series": {"region": "eu"}, "rule": "page-fast", "severity": "page",
            "error_budget_remaining": 0.9}
    recorder.add([alert(**base, id="a", status="firing", at="2026-11-23T20:00:00.000Z",
                        period_bad_events=7),
                  alert(**base, id="b", status="firing", at="2026-11-23T20:00:10.000Z")])
    recorder.add([alert(**base, id="a", status="resolved", at="2026-11-23T20:30:00.000Z")])
    first, second = recorder.spans
    assert (first.end or 0) - first.start == 1800 and first.period_bad == 7 and first.series == EU
    assert second.end is None and second.period_bad is None


# --- the recommendation -----------------------------------------------------------------


def page(precision: float | None, detection: float | None, reset: float | None = 600.0,
         detected: int = 1, incidents: int = 1) -> SeverityScore:
    return SeverityScore("page", 3, 1.0, 0, precision, detected / incidents if incidents else None,
                         incidents, detected, None if detection is None else Spread(detection, detection),
                         None if reset is None else Spread(reset, reset), 0, 0.0, None)


@pytest.mark.parametrize(
    ("scores", "chosen"),
    [
        pytest.param({"a": page(0.5, 60), "b": page(1.0, 600)}, "b", id="best precision wins over speed"),
        pytest.param({"a": page(1.0, 600), "b": page(1.0, 300)}, "b", id="then the faster detection"),
        pytest.param({"a": page(1.0, 300, reset=3600), "b": page(1.0, 320, reset=60)}, "b",
                     id="detection within a tenth is a tie, then the faster reset"),
        pytest.param({"a": page(1.0, 300, reset=None), "b": page(1.0, 300, reset=7200)}, "b",
                     id="still firing at the end resets last"),
        pytest.param({"a": page(1.0, 60, detected=0), "b": page(0.2, 600)}, "b",
                     id="only full recall qualifies"),
    ],
)
def test_recommendation(scores: dict[str, SeverityScore], chosen: str) -> None:
    result = recommend(scores, eval_interval=10.0)
    assert result.policy == chosen
    assert result.reasoning[-1] == f"Recommended: {chosen}."


def test_no_recommendation_without_full_recall_names_the_closest() -> None:
    result = recommend({"a": page(1.0, 60, detected=1, incidents=3),
                        "b": page(0.5, 60, detected=2, incidents=3)}, eval_interval=10.0)
    assert result.policy is None
    assert result.reasoning == ("No candidate pages on every labelled incident; the closest, b, "
                                "pages on 2 of 3.",)


def test_no_recommendation_without_incidents() -> None:
    result = recommend({"a": page(0.0, None, detected=0, incidents=0)}, eval_interval=10.0)
    assert result.policy is None and "--incidents" in result.reasoning[0]


def test_no_recommendation_without_page_rules() -> None:
    assert recommend({}, eval_interval=10.0).policy is None


# --- burn-rate timelines ----------------------------------------------------------------


def test_a_timeline_merges_buckets_but_keeps_every_peak() -> None:
    timeline = BurnTimeline(["5m", "1h"], step=60.0, limit=10)
    for minute in range(100):
        spike = 50.0 if minute == 37 else 0.5
        timeline.add(minute * 60.0, {"5m": spike, "1h": minute / 10})
    points = timeline.points()
    assert len(points) <= 10 and timeline.width == 960.0
    assert max(values[0] for _, values in points) == 50.0
    assert points[-1][1][1] == pytest.approx(9.9)
    assert [t for t, _ in points] == sorted(t for t, _ in points)


def test_an_alert_still_firing_at_the_end_does_not_reach_past_the_data() -> None:
    after = LabelledIncident("api", 3 * DAY, 3 * DAY + HOUR)  # after the last event (2 days)
    result = score([span(DAY, None)], [after], "page", scored=(0.0, 2 * DAY),
                   burnt=lambda i, a: None)
    assert (result.recall, result.precision) == (0.0, 0.0)


def test_an_alert_resolved_when_an_incident_starts_did_not_detect_it() -> None:
    result = scored([span(9 * HOUR, 10 * HOUR)], [INCIDENT])
    assert (result.recall, result.precision) == (0.0, 0.0)


def test_alerts_across_the_warm_up_boundary_are_judged_against_every_incident() -> None:
    early = LabelledIncident("api", 5 * HOUR, 7 * HOUR)  # began during the warm-up
    late = LabelledIncident("api", 10 * HOUR, 11 * HOUR)
    spans = [span(6.5 * HOUR, 6.8 * HOUR), span(9.5 * HOUR, 10.5 * HOUR)]
    result = score(spans, [late], "page", scored=(6 * HOUR, 2 * DAY), burnt=lambda i, a: None,
                   known=[early, late])
    assert result.precision == 1.0, "the alert on the warm-up's incident is no false positive"
    firing_before = score([span(5.5 * HOUR, 10.5 * HOUR)], [late], "page",
                          scored=(6 * HOUR, 2 * DAY), burnt=lambda i, a: None, known=[early, late])
    assert firing_before.recall == 1.0 and firing_before.detection == Spread(0.0, 0.0), \
        "an alert fired in the warm-up and still firing detects the incident"
