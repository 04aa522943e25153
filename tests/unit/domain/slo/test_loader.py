from pathlib import Path

import pytest

from streams.domain.slo.loader import SloFileError, load_slo_file, parse_slo_text
from streams.domain.slo.model import MULTIWINDOW, AvailabilitySli, LatencySli, Severity

EXAMPLES = Path(__file__).resolve().parents[4] / "examples"

MINIMAL = """
apiVersion: sre-streams/v1
slos:
  - name: checkout-availability
    service: checkout
    objective: 0.999
    sli: {availability: {}}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(SloFileError) as caught:
        parse_slo_text(text)
    return caught.value.problems


def test_minimal_file_gets_the_documented_defaults() -> None:
    slo = parse_slo_text(MINIMAL).slos[0]
    assert slo.window == 30 * 86400
    assert slo.policy == MULTIWINDOW
    assert slo.min_events == 0
    assert slo.max_series == 1000
    assert slo.sli == AvailabilitySli(frozenset({5}), frozenset())
    assert slo.group_by == () and slo.match == () and slo.labels == ()


def test_builtin_policy_factors_match_the_workbook_for_30_days() -> None:
    factors = [rule.factor(30 * 86400) for rule in MULTIWINDOW.rules]
    assert factors == pytest.approx([14.4, 6, 3, 1])
    assert [r.severity for r in MULTIWINDOW.rules] == [Severity.PAGE] * 2 + [Severity.TICKET] * 2


def test_the_contract_example_loads() -> None:
    text = """
apiVersion: sre-streams/v1
defaults: {window: 30d, alerting: multiwindow, min_events: 0}
slos:
  - name: checkout-availability
    service: checkout
    objective: 0.999
    sli: {availability: {bad_status: ["5xx", 429]}}
    match: {operation: "POST /orders"}
    group_by: [region]
    max_series: 1000
    labels: {team: payments}
    runbook_url: https://runbooks.example/checkout
  - name: checkout-latency
    service: checkout
    objective: 0.99
    sli: {latency: {threshold_ms: 300}}
alerting:
  multiwindow:
    - {name: page-fast,   severity: page,   long: 1h, short: 5m,  budget_percent: 2}
    - {name: page-slow,   severity: page,   long: 6h, short: 30m, budget_percent: 5}
    - {name: ticket-fast, severity: ticket, long: 1d, short: 2h,  budget_percent: 10}
    - {name: ticket-slow, severity: ticket, long: 3d, short: 6h,  budget_percent: 10}
"""
    availability, latency = parse_slo_text(text).slos
    assert availability.sli == AvailabilitySli(frozenset({5}), frozenset({429}))
    assert availability.match == (("operation", "POST /orders"),)
    assert availability.group_by == ("region",)
    assert availability.labels == (("team", "payments"),)
    assert latency.sli == LatencySli(300.0)
    assert availability.policy == MULTIWINDOW


def test_percent_objective_and_per_slo_overrides() -> None:
    text = """
apiVersion: sre-streams/v1
defaults: {window: 28d, min_events: 50, alerting: fast-only}
alerting:
  fast-only:
    - {name: page, severity: page, long: 1h, short: 5m, budget_percent: 2}
slos:
  - {name: a, service: s, objective: "99.9%", sli: {availability: {}}}
  - {name: b, service: s, objective: 0.99, sli: {availability: {}}, window: 7d, min_events: 5,
     alerting: multiwindow}
"""
    a, b = parse_slo_text(text).slos
    assert a.objective == 0.999
    assert a.window == 28 * 86400 and a.min_events == 50 and a.policy.name == "fast-only"
    assert b.window == 7 * 86400 and b.min_events == 5 and b.policy.name == "multiwindow"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("objective: 1", "slos[0].objective: must be < 1, got 1.0"),
        ("objective: 1.0", "slos[0].objective: must be < 1, got 1.0"),
        ("objective: 0", "slos[0].objective: must be > 0, got 0.0"),
        ("objective: '100%'", "slos[0].objective: must be < 1, got 1.0"),
        ("objective: high", "slos[0].objective: must be a ratio such as 0.999 or '99.9%', got 'high'"),
        ("name: Checkout", "slos[0].name: must match [a-z0-9-]+, got 'Checkout'"),
        ("window: 5 days", "slos[0].window: must be a duration such as 5m, 1h or 30d, got '5 days'"),
        ("window: 1d", "slos[0].window: 1d is shorter than the long window 3d of rule "
                       "'ticket-slow' in policy 'multiwindow'"),
        ("alerting: nope", "slos[0].alerting: unknown alert policy 'nope' (known: multiwindow)"),
        ("min_events: -1", "slos[0].min_events: must be >= 0, got -1"),
        ("max_series: 0", "slos[0].max_series: must be >= 1, got 0"),
        ("group_by: region", "slos[0].group_by: must be a list of event field names, got 'region'"),
        ("sli: {availability: {bad_status: [6xx]}}",
         "slos[0].sli.availability.bad_status[0]: must be a class like '5xx' or a code 100-599, "
         "got '6xx'"),
        ("sli: {latency: {threshold_ms: -1}}", "slos[0].sli.latency.threshold_ms: must be >= 0, got -1.0"),
        ("sli: {saturation: {}}", "slos[0].sli: unknown SLI kind 'saturation': use availability or latency"),
        ("objectve: 0.9", "slos[0].objectve: unknown key"),
    ],
)
def test_an_invalid_slo_is_rejected_with_its_path(change: str, expected: str) -> None:
    key = change.split(":")[0]
    lines, replaced = [], False
    for line in MINIMAL.splitlines():  # the key's line in place (a key given twice is refused)
        body = line.lstrip(" -")
        if body.startswith(f"{key}:"):
            lines.append(line[: len(line) - len(body)] + change)
            replaced = True
        else:
            lines.append(line)
    text = "\n".join(lines) + ("\n" if replaced else f"\n    {change}\n")
    assert any(p.startswith(expected) for p in problems(text)), problems(text)


def test_every_problem_is_reported_not_just_the_first() -> None:
    text = """
apiVersion: sre-streams/v2
slos:
  - {name: a, service: s, objective: 1, sli: {availability: {}}}
  - {name: a, service: s, objective: 0.9, sli: {latency: {}}}
  - {name: c, objective: 0.9, sli: {availability: {}}}
alerting:
  custom:
    - {name: x, severity: urgent, long: 5m, short: 1h, budget_percent: 200}
"""
    found = problems(text)
    for expected in [
        "apiVersion: must be 'sre-streams/v1'",
        "alerting.custom[0].severity: must be one of page, ticket, got 'urgent'",
        "alerting.custom[0].short: must be shorter than long (5m), got 1h",
        "alerting.custom[0].budget_percent: must be in (0, 100], got 200.0",
        "slos[0].objective: must be < 1, got 1.0",
        "slos[1].sli.latency.threshold_ms: is required",
        "slos[2].service: is required",
    ]:
        assert any(p.startswith(expected) for p in found), (expected, found)


def test_duplicate_slo_names_are_rejected() -> None:
    text = MINIMAL + """  - name: checkout-availability
    service: other
    objective: 0.9
    sli: {availability: {}}
"""
    assert problems(text) == [
        "slos[1].name: duplicate name 'checkout-availability' (also slos[0])"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "empty SLO file"),
        ("- a\n- b\n", "the file must be a mapping with apiVersion and slos"),
        ("apiVersion: sre-streams/v1\nslos: []\n", "slos: must be a non-empty list"),
        ("apiVersion: [unclosed\n", "invalid YAML: expected ',' or ']'"),
    ],
)
def test_documents_that_are_not_slo_files(text: str, expected: str) -> None:
    found = problems(text)
    assert any(expected in p for p in found), found


def test_unreadable_file_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    with pytest.raises(SloFileError) as caught:
        load_slo_file(tmp_path / "missing.yaml")
    assert caught.value.problems[0].startswith("cannot read file")


def test_shipped_examples_are_valid() -> None:
    for path in sorted(EXAMPLES.glob("*.yaml")):
        assert load_slo_file(path).slos
