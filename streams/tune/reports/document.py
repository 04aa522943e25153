"""The tune report as JSON (`--json`; schemas/tune-report.schema.json)."""

from __future__ import annotations

from dataclasses import dataclass

from streams.domain.durations import format_duration
from streams.domain.slo.model import AlertRule
from streams.domain.timestamps import format_ts
from streams.tune.incidents import JsonObject
from streams.tune.scoring import AlertSpan, SeverityScore, Spread
from streams.tune.tuning import PolicyResult, SloResult, TuneResult


@dataclass(frozen=True, slots=True)
class Inputs:
    """The files a report was made from, as the user named them."""

    slos: str
    events: str
    incidents: str | None


def report_document(result: TuneResult, inputs: Inputs) -> JsonObject:
    stats = result.stats
    return {
        "kind": "tune-report",
        "version": 1,
        "inputs": {"slos": inputs.slos, "events": inputs.events, "incidents": inputs.incidents},
        "eval_interval": format_duration(result.eval_interval),
        "events": {
            "from": format_ts(result.data[0]),
            "to": format_ts(result.data[1]),
            "read": stats.events,
            "counted": stats.events - sum(stats.dead_letters.values()) - stats.unmatched,
            "dead_lettered": sum(stats.dead_letters.values()),
        },
        "candidates": [
            {"name": c.name, "sources": list(c.sources), "description": c.description}
            for c in result.candidates
        ],
        "slos": [_slo(slo) for slo in result.slos],
    }


def _slo(result: SloResult) -> JsonObject:
    slo = result.slo
    return {
        "slo": slo.name,
        "service": slo.service,
        "objective": slo.objective,
        "window": slo.window_label,
        "configured_policy": slo.policy.name,
        "scored": {"from": format_ts(result.scored[0]), "to": format_ts(result.scored[1])},
        "incidents": [incident.to_json() for incident in result.incidents],
        "unscored_incidents": [incident.to_json() for incident in result.unscored],
        "policies": [_policy(policy, result) for policy in result.policies],
        "recommendation": {
            "policy": result.recommendation.policy,
            "severity": result.recommendation.severity,
            "reasoning": list(result.recommendation.reasoning),
        },
    }


def _policy(policy: PolicyResult, result: SloResult) -> JsonObject:
    document: JsonObject = {
        "policy": policy.candidate.name,
        "configured": policy.candidate.name == result.slo.policy.name,
        "rules": [_rule(rule, result.slo.window) for rule in policy.rules],
        "scores": [_score(score) for score in policy.scores],
        "alerts": [_span(span) for span in policy.spans],
    }
    skipped = policy.candidate.skipped.get(result.slo.name)
    if skipped is not None:
        document["not_applicable"] = skipped
    return document


def _rule(rule: AlertRule, period: float) -> JsonObject:
    return {"name": rule.name, "severity": rule.severity.value, "long_window": rule.long_label,
            "short_window": rule.short_label, "budget_percent": rule.budget_percent,
            "threshold": rule.factor(period)}


def _score(score: SeverityScore) -> JsonObject:
    return {
        "severity": score.severity,
        "alerts": score.alerts,
        "warm_up_alerts": score.warm_up_alerts,
        "alerts_per_day": score.per_day,
        "precision": score.precision,
        "recall": score.recall,
        "incidents": score.incidents,
        "detected": score.detected,
        "detection_seconds": _spread(score.detection),
        "reset_seconds": _spread(score.reset),
        "still_firing": score.unresolved,
        "firing_seconds": score.firing_seconds,
        "budget_consumed_before_detection": _spread(score.budget_before_detection),
    }


def _spread(value: Spread | None) -> dict[str, float] | None:
    return None if value is None else {"median": value.median, "worst": value.worst}


def _span(span: AlertSpan) -> JsonObject:
    return {"rule": span.rule, "severity": span.severity, "series": dict(span.series),
            "start": format_ts(span.start), "end": None if span.end is None else format_ts(span.end)}
