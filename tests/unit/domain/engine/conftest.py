"""Random SLOs and event streams for the engine's property tests (reference and restore)."""

from __future__ import annotations

from hypothesis import strategies as st

from streams.domain.slo.model import AlertPolicy, AlertRule, AvailabilitySli, Severity, Slo

E = 10.0
START = 25920 * 68000.0
REGIONS = ("eu", "us", "ap")


@st.composite
def slos(draw: st.DrawFn) -> Slo:
    rules = []
    for number in range(draw(st.integers(1, 3))):
        short = draw(st.sampled_from([30.0, 60.0, 120.0, 300.0, 600.0]))
        long = short * draw(st.integers(2, 12))
        rules.append(AlertRule(f"rule-{number}", draw(st.sampled_from(list(Severity))), long,
                               short, draw(st.sampled_from([1.0, 2.0, 5.0, 10.0, 50.0])),
                               alert_after=draw(st.sampled_from([0.0, 0.0, 30.0, 300.0]))))
    longest = max(rule.long for rule in rules)
    window = longest * draw(st.sampled_from([1, 2, 3, 10]))
    return Slo(
        name="svc-availability", service="svc",
        objective=draw(st.sampled_from([0.9, 0.95, 0.99, 0.999])),
        sli=AvailabilitySli(), window=window, policy=AlertPolicy("random", tuple(rules)),
        min_events=draw(st.sampled_from([0, 0, 3, 20])), group_by=("region",),
    )


@st.composite
def streams_of_events(draw: st.DrawFn) -> list[dict[str, object]]:
    """Request and count events over two hours with bursts of errors."""
    span = 7200.0
    bursts = draw(st.lists(st.tuples(st.floats(0, span), st.floats(10, 1800),
                                     st.sampled_from(REGIONS)), max_size=4))
    size = draw(st.integers(1, 400))
    offsets = sorted(draw(st.lists(st.integers(0, int(span * 1000)), min_size=size,
                                   max_size=size)))
    events: list[dict[str, object]] = []
    for millis in offsets:
        ts = START + millis / 1000
        region = draw(st.sampled_from(REGIONS))
        in_burst = any(b <= ts - START < b + d and r == region for b, d, r in bursts)
        if draw(st.integers(0, 9)) == 0:
            total = draw(st.integers(0, 30))
            good = total if not in_burst else draw(st.integers(0, total))
            events.append({"ts": ts, "slo": "svc-availability", "good": good, "total": total,
                           "series": {"region": region}})
        else:
            status = 500 if in_burst and draw(st.booleans()) else 200
            events.append({"ts": ts, "service": "svc", "region": region, "status": status})
    return events
