"""Bucketed evaluation equals a naive reference computed from the raw events (contracts §4)."""

from __future__ import annotations

import math
from bisect import bisect_right
from fractions import Fraction
from itertools import accumulate

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.domain.engine.alerts import bad_ratio_threshold, window_trips
from streams.domain.engine.counters import plan_for
from streams.domain.engine.evaluation import Engine, EngineSettings
from streams.domain.slo.model import AlertPolicy, AlertRule, AvailabilitySli, Severity, Slo, SloFile
from tests.unit.domain.engine.conftest import START, E, slos, streams_of_events


def reference(slo: Slo, events: list[dict[str, object]]) -> list[tuple[float, str, str, str]]:
    """Transitions computed the slow way: re-sum the raw events at every instant."""
    plan = plan_for(slo, E)
    per_series: dict[str, dict[int, list[int]]] = {}
    for event in events:
        index = math.ceil(float(event["ts"]) / E)  # type: ignore[arg-type]
        if "slo" in event:
            region = event["series"]["region"]  # type: ignore[index]
            good, total = int(event["good"]), int(event["total"])  # type: ignore[call-overload]
        else:
            region = event["region"]
            good, total = (0 if event["status"] == 500 else 1), 1
        slot = per_series.setdefault(str(region), {}).setdefault(index, [0, 0])
        slot[0] += good
        slot[1] += total
    first = min(min(data) for data in per_series.values())
    last = math.floor(max(float(e["ts"]) for e in events) / E)  # type: ignore[arg-type]
    # Which buckets a window covers at an instant: `n` buckets of `step` intervals back from
    # the bucket holding the instant (see streams.domain.engine.counters).
    shape = {w: (tier.step, n) for tier in plan.tiers for w, n in tier.windows}
    thresholds = [bad_ratio_threshold(rule, slo) for rule in slo.policy.rules]
    # Running sums over the raw 10 s intervals, so that a window's sum is one difference (the
    # same sums as adding up every interval inside it, in a fraction of the time).
    running: dict[str, tuple[list[int], list[int], list[int]]] = {}
    for region, data in per_series.items():
        indices = sorted(data)
        running[region] = (indices, [0, *accumulate(data[i][0] for i in indices)],
                           [0, *accumulate(data[i][1] for i in indices)])
    firing: dict[tuple[str, str], bool] = {}
    pending: dict[tuple[str, str], float] = {}  # since when a rule not firing has tripped
    out: list[tuple[float, str, str, str]] = []
    for instant in range(first, last + 1):
        for region in sorted(per_series):
            indices, goods, totals = running[region]
            if indices[0] > instant:
                continue

            def window(length: float, indices: list[int] = indices, goods: list[int] = goods,
                       totals: list[int] = totals, instant: int = instant) -> tuple[int, int]:
                step, n = shape[plan.index(length)]
                low = (-(-instant // step) - n) * step
                # Intervals i with low < i <= instant.
                above, upto = bisect_right(indices, low), bisect_right(indices, instant)
                return goods[upto] - goods[above], totals[upto] - totals[above]

            for rule, threshold in zip(slo.policy.rules, thresholds, strict=True):
                long_good, long_total = window(rule.long)
                short_good, short_total = window(rule.short)
                holds = (long_total >= slo.min_events
                         and window_trips(long_good, long_total, threshold)
                         and window_trips(short_good, short_total, threshold))
                key = (region, rule.name)
                if rule.alert_after and not firing.get(key, False):
                    # alert_after: not firing yet, the trip must have held that long
                    since = pending.setdefault(key, instant * E) if holds else None
                    if since is None:
                        pending.pop(key, None)
                    holds = since is not None and instant * E - since >= rule.alert_after
                    if holds:
                        del pending[key]
                if holds != firing.get(key, False):
                    firing[key] = holds
                    out.append((instant * E, region, rule.name, "firing" if holds else "resolved"))
    return out


def engine_transitions(slo: Slo, events: list[dict[str, object]],
                       lateness: float) -> list[tuple[float, str, str, str]]:
    from streams.domain.timestamps import parse_ts

    engine = Engine(SloFile((slo,)), EngineSettings(eval_interval=E, lateness=lateness,
                                                    budget_interval=None))
    for event in events:
        engine.ingest(event)
    engine.finish()
    return [(parse_ts(a.at), a.series["region"], a.rule, a.status)
            for a in engine.alerts]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(slo=slos(), events=streams_of_events())
def test_bucketed_evaluation_matches_the_naive_reference(
    slo: Slo, events: list[dict[str, object]]
) -> None:
    assert engine_transitions(slo, events, lateness=5.0) == reference(slo, events)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(slo=slos(), events=streams_of_events(), seed=st.randoms(use_true_random=False))
def test_arrival_order_within_lateness_does_not_matter(
    slo: Slo, events: list[dict[str, object]], seed: object
) -> None:
    jitter = [float(e["ts"]) + seed.uniform(0, 59.0) for e in events]  # type: ignore[attr-defined,arg-type]
    shuffled = [e for _, e in sorted(zip(jitter, events, strict=True), key=lambda p: p[0])]
    assert engine_transitions(slo, shuffled, lateness=60.0) == reference(slo, events)


def test_reference_agrees_with_the_contract_definition_at_full_resolution() -> None:
    """With buckets as fine as the evaluation interval, windows are exactly (T - W, T]."""
    slo = Slo(name="svc-availability", service="svc", objective=0.9, sli=AvailabilitySli(),
              window=600.0, policy=AlertPolicy("p", (AlertRule("r", Severity.PAGE, 90.0, 30.0, 10.0),)),
              group_by=("region",))
    assert all(tier.step == 1 for tier in plan_for(slo, E).tiers)
    events: list[dict[str, object]] = [
        {"ts": START + s, "service": "svc", "region": "eu", "status": 500 if 100 < s < 160 else 200}
        for s in range(0, 400, 3)
    ]
    exact: list[tuple[float, str, str, str]] = []
    firing = False
    for instant in range(math.ceil(START / E), math.floor((START + 399) / E) + 1):
        at = instant * E

        def window(length: float, at: float = at) -> list[dict[str, object]]:
            return [e for e in events if at - length < float(e["ts"]) <= at]  # type: ignore[arg-type]

        def trips(inside: list[dict[str, object]]) -> bool:
            # burn rate (bad share / 0.1) at or above the factor 10% * 600 s / 90 s
            bad = sum(1 for e in inside if e["status"] == 500)
            return bool(inside) and Fraction(bad, len(inside)) / Fraction(1, 10) >= Fraction(
                10, 100) * Fraction(600, 90)

        holds = trips(window(90.0)) and trips(window(30.0))
        if holds != firing:
            firing = holds
            exact.append((at, "eu", "r", "firing" if holds else "resolved"))
    assert exact, "the scenario must raise an alert"
    assert reference(slo, events) == exact
    assert engine_transitions(slo, events, lateness=0.0) == exact
