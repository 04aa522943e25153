import pytest

from streams.domain.engine.classify import Classifier, InvalidEvent, label_value
from streams.domain.slo.loader import parse_slo_text

SLOS = parse_slo_text("""
apiVersion: sre-streams/v1
slos:
  - name: web-availability
    service: web
    objective: 0.99
    sli: {availability: {bad_status: ["5xx", 429]}}
    group_by: [region, canary]
  - name: web-latency
    service: web
    objective: 0.99
    sli: {latency: {threshold_ms: 300}}
    match: {operation: "GET /"}
  - name: lb
    service: lb
    objective: 0.999
    sli: {availability: {}}
    group_by: [zone]
""").slos
CLASSIFIER = Classifier(SLOS)
TS = 1763928000.0


def samples(event: object) -> list[tuple[str, tuple[str, ...], int, int]]:
    _, found = CLASSIFIER.classify(event)
    return [(SLOS[position].name, key, good, total) for position, key, good, total in found]


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"ts": TS, "service": "web", "status": 200, "region": "eu", "canary": False},
         [("web-availability", ("eu", "false"), 1, 1)]),
        ({"ts": TS, "service": "web", "status": 503, "region": "eu"},
         [("web-availability", ("eu", ""), 0, 1)]),
        ({"ts": TS, "service": "web", "status": 429},
         [("web-availability", ("", ""), 0, 1)]),
        ({"ts": TS, "service": "web", "status": 404}, [("web-availability", ("", ""), 1, 1)]),
        ({"ts": TS, "service": "web", "status": 500, "ok": True},
         [("web-availability", ("", ""), 1, 1)]),
        ({"ts": TS, "service": "web", "status": 200, "ok": False},
         [("web-availability", ("", ""), 0, 1)]),
        ({"ts": "2025-11-23T20:00:00Z", "service": "web", "status": 200, "operation": "GET /",
          "latency_ms": 300}, [("web-availability", ("", ""), 1, 1), ("web-latency", (), 1, 1)]),
        ({"ts": TS, "service": "web", "status": 200, "operation": "GET /", "latency_ms": 300.5},
         [("web-availability", ("", ""), 1, 1), ("web-latency", (), 0, 1)]),
        ({"ts": TS, "service": "web", "status": 200, "region": 7},
         [("web-availability", ("7", ""), 1, 1)]),
        ({"ts": TS, "service": "other", "status": 500}, []),
        ({"ts": TS, "slo": "lb", "good": 9, "total": 10, "series": {"zone": "a"}},
         [("lb", ("a",), 9, 10)]),
        ({"ts": TS, "slo": "lb", "good": 0, "total": 0}, [("lb", ("",), 0, 0)]),
    ],
)
def test_events_become_samples(event: dict[str, object], expected: list[object]) -> None:
    assert samples(event) == expected


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ([1, 2], "expected a JSON object, got an array"),
        ("text", "expected a JSON object, got a string"),
        ({"service": "web", "status": 200}, "missing ts"),
        ({"ts": "soon", "service": "web", "status": 200}, "invalid ts"),
        ({"ts": True, "service": "web", "status": 200}, "invalid ts"),
        ({"ts": TS, "status": 200}, "missing service"),
        ({"ts": TS, "service": 5, "status": 200}, "service must be a non-empty string"),
        ({"ts": TS, "service": "web"}, "missing status (needed by SLO web-availability)"),
        ({"ts": TS, "service": "web", "status": "200"}, "status must be an integer"),
        ({"ts": TS, "service": "web", "status": 200.0}, "status must be an integer"),
        ({"ts": TS, "service": "web", "status": 999}, "status out of range: 999"),
        ({"ts": TS, "service": "web", "status": 200, "ok": "yes"}, "ok must be a boolean"),
        ({"ts": TS, "service": "web", "status": 200, "operation": "GET /"},
         "missing latency_ms (needed by SLO web-latency)"),
        ({"ts": TS, "service": "web", "status": 200, "operation": "GET /", "latency_ms": -1},
         "latency_ms must be a finite number >= 0"),
        ({"ts": TS, "service": "web", "status": 200, "operation": "GET /", "latency_ms": "1"},
         "latency_ms must be a number"),
        ({"ts": TS, "service": "web", "status": 200, "region": {"a": 1}},
         "field value must be a string, number or boolean"),
        ({"ts": TS, "slo": "nope", "good": 1, "total": 1}, "unknown SLO 'nope'"),
        ({"ts": TS, "slo": "lb", "good": 2, "total": 1}, "good > total"),
        ({"ts": TS, "slo": "lb", "good": -1, "total": 1}, "good must be >= 0"),
        ({"ts": TS, "slo": "lb", "good": 1.5, "total": 2}, "good must be an integer"),
        ({"ts": TS, "slo": "lb", "total": 2}, "missing good"),
        ({"ts": TS, "slo": "lb", "good": 1, "total": 2, "series": {"region": "x"}},
         "series key 'region' is not in group_by of SLO lb"),
    ],
)
def test_bad_events_are_rejected_with_a_reason(event: object, reason: str) -> None:
    with pytest.raises(InvalidEvent) as caught:
        CLASSIFIER.classify(event)
    assert str(caught.value).startswith(reason)


@pytest.mark.parametrize(("value", "label"),
                         [("eu", "eu"), (True, "true"), (3, "3"), (3.0, "3"), (2.5, "2.5")])
def test_label_values_use_json_spelling(value: object, label: str) -> None:
    assert label_value(value) == label
