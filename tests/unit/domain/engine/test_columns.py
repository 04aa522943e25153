"""The column-wise batch path has exactly the effect of the per-event path."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.domain.engine.classify import InvalidEvent
from streams.domain.engine.columns import ColumnClassifier
from streams.domain.engine.evaluation import Engine, EngineSettings
from streams.domain.slo.loader import parse_slo_text

SLOS = parse_slo_text("""
apiVersion: sre-streams/v1
alerting:
  quick:
    - {name: fast, severity: page, long: 10m, short: 1m, budget_percent: 20}
    - {name: slow, severity: ticket, long: 1h, short: 5m, budget_percent: 50}
slos:
  - {name: web-availability, service: web, objective: 0.9, window: 2h, alerting: quick,
     sli: {availability: {bad_status: ["5xx", 429]}}, group_by: [region], max_series: 3}
  - {name: web-latency, service: web, objective: 0.9, window: 2h, alerting: quick,
     sli: {latency: {threshold_ms: 100}}, match: {operation: "GET /"}}
  - {name: db-availability, service: db, objective: 0.95, window: 2h, alerting: quick,
     sli: {availability: {}}, group_by: [region, shard]}
""")
START = 25920 * 68000.0

plain_request = st.fixed_dictionaries(
    {
        "ts": st.integers(0, 3 * 3600 * 10).map(lambda t: START + t / 10),
        "service": st.sampled_from(["web", "db", "other"]),
        "region": st.sampled_from(["eu", "us", "ap", "sa", "af"]),
        "status": st.sampled_from([200, 200, 200, 201, 404, 429, 500, 503]),
        "latency_ms": st.floats(0, 300),
        "operation": st.sampled_from(["GET /", "POST /"]),
    },
    optional={"shard": st.sampled_from([1, 2, "3"])},
)
odd_event = st.one_of(
    st.just([1]),
    st.just("text"),
    plain_request.map(lambda e: {**e, "status": "500"}),
    plain_request.map(lambda e: {**e, "ok": False}),
    plain_request.map(lambda e: {k: v for k, v in e.items() if k != "latency_ms"}),
    plain_request.map(lambda e: {**e, "ts": "2025-11-08T00:00:00Z"}),
    plain_request.map(lambda e: {**e, "region": {"nested": 1}}),
    plain_request.map(lambda e: {**e, "ts": e["ts"] - 3 * 3600}),  # late or too old
    st.builds(lambda t, g: {"ts": START + t, "slo": "web-availability", "good": g, "total": 4,
                            "series": {"region": "eu"}},
              st.integers(0, 10800), st.integers(0, 5)),
)


@st.composite
def traffic(draw: st.DrawFn) -> list[object]:
    events: list[object] = sorted(draw(st.lists(plain_request, min_size=20, max_size=600)),
                                  key=lambda e: e["ts"])
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 3]))):
        events.insert(draw(st.integers(0, len(events))), draw(odd_event))
    # Some disorder within and beyond the lateness.
    for _ in range(draw(st.integers(0, 20))):
        i = draw(st.integers(0, len(events) - 1))
        j = min(len(events) - 1, i + draw(st.integers(0, 40)))
        events[i], events[j] = events[j], events[i]
    return events


def outcome(engine: Engine) -> object:
    engine.finish()
    return engine.alerts, engine.budgets, engine.stats, [s.key for s in engine.series]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=traffic(), cuts=st.lists(st.integers(1, 600), max_size=12))
def test_batches_have_the_effect_of_events_one_by_one(events: list[object], cuts: list[int]) -> None:
    settings_ = EngineSettings(lateness=30.0, budget_interval=300.0)

    one_by_one = Engine(SLOS, settings_)
    expected_rejects: list[tuple[int, str]] = []
    for position, event in enumerate(events):
        try:
            one_by_one.ingest(event)
        except InvalidEvent as exc:
            expected_rejects.append((position, str(exc)))

    batched = Engine(SLOS, settings_)
    batched.columnar_min = 1
    rejects: list[tuple[int, str]] = []
    bounds = sorted({0, len(events), *[c for c in cuts if c < len(events)]})
    for low, high in pairwise(bounds):
        rejects += [(low + i, reason) for i, reason in batched.ingest_batch(events[low:high])]

    assert rejects == expected_rejects
    assert outcome(batched) == outcome(one_by_one)


def test_a_plain_batch_takes_the_column_path() -> None:
    engine = Engine(SLOS)
    events = [{"ts": START + i, "service": "web", "region": "eu", "status": 200,
               "latency_ms": 5.0, "operation": "GET /"} for i in range(200)]
    engine.ingest(events[0])
    engine.ingest(events[60])  # the first evaluation; after it batches go column-wise
    assert ColumnClassifier(SLOS.slos).classify(events) is not None
    assert engine.ingest_batch(events[61:]) == []
    assert engine.stats.samples == 2 * 141
