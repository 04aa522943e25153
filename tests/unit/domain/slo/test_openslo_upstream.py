"""The OpenSLO specification's own example documents (tests/data/openslo, vendored with their
licence): each one loads or is refused with the exact path and reason of each problem.

None of them loads: their sources are other systems' queries (type Any, Datadog, a
DataSource reference), three use time-slice budgets (two with calendar windows that
do not start at a period's first midnight, or last one minute), and the alert
examples use an uppercase name or a `lte` burn-rate condition. What is
asserted is that each is read to the end and refused with every problem, nothing else.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.domain.slo.loader import SloFileError, load_slo_file

DATA = Path(__file__).resolve().parents[3] / "data" / "openslo"
NOT_EVENTS = ("is not an event source this engine reads: it counts the request events it "
              "consumes, described by type: sre-streams (see docs/contracts.md)")
EXPECTED: dict[str, list[str]] = {
    'budgeting-method-occurences-slo.yaml': [
        "documents[0].spec.indicator.spec.thresholdMetric.metricSource.type: 'Any' " + NOT_EVENTS,
    ],
    'budgeting-method-ratio-timeslices.yaml': [
        ('documents[0].spec.budgetingMethod: RatioTimeslices is not supported: budgets here count '
         'events (Occurrences), and a time-slice budget is not computed exactly yet'),
        "documents[0].spec.indicator.spec.ratioMetric.good.metricSource.type: 'Any' " + NOT_EVENTS,
        "documents[0].spec.indicator.spec.ratioMetric.total.metricSource.type: 'Any' " + NOT_EVENTS,
    ],
    'budgeting-method-timeslices-slo.yaml': [
        ('documents[0].spec.budgetingMethod: Timeslices is not supported: budgets here count '
         'events (Occurrences), and a time-slice budget is not computed exactly yet'),
        "documents[0].spec.indicator.spec.ratioMetric.good.metricSource.type: 'Any' " + NOT_EVENTS,
        "documents[0].spec.indicator.spec.ratioMetric.total.metricSource.type: 'Any' " + NOT_EVENTS,
        ("documents[0].spec.timeWindow[0].duration: a calendar window must be 1M, 1Q or 1w, "
         "got '1m'"),
    ],
    'spec-alertcondition-example.yaml': [
        ('documents[0].spec.condition.op: must be gte (or gt): a burn-rate rule fires when the '
         "budget burns at the threshold or faster, got 'lte'"),
    ],
    'spec-alertcondition-schema.yaml': [
        ('documents[0].spec.severity: must be a severity that pages (page, critical, urgent, '
         'high, sev1, sev-1, p1, p0) or opens a ticket (ticket, warning, warn, medium, low, info, '
         "sev2, sev-2, sev3, sev-3, p2, p3, p4), got 'string'"),
        "documents[0].spec.condition.kind: only burnrate conditions exist here, got 'string'",
        ('documents[0].spec.condition.op: must be gte (or gt): a burn-rate rule fires when the '
         "budget burns at the threshold or faster, got 'enum'"),
        "documents[0].spec.condition.threshold: must be a finite number, got 'number'",
        ('documents[0].spec.condition.lookbackWindow: must be a duration such as 5m, 1h or 30d, '
         "got 'duration-shorthand'"),
        ("documents[0].spec.condition.alertAfter: must be a duration such as 5m, 1h or 30d, got "
         "'duration-shorthand'"),
    ],
    'spec-alertpolicy-example-inline.yaml': [
        ('documents[0].metadata.name: must be a name of at most 63 characters: lowercase letters, '
         "digits and '-' (RFC 1123), got 'AlertPolicy'"),
    ],
    'spec-alertpolicy-example-ref.yaml': [
        ('documents[0].metadata.name: must be a name of at most 63 characters: lowercase letters, '
         "digits and '-' (RFC 1123), got 'AlertPolicy'"),
    ],
    'spec-alertpolicy-schema.yaml': [
        'documents[0].spec.alertWhenBreaching: must be true: alerts always fire when a condition breaches',
        'documents[0].spec.alertWhenNoData: must be false: no alert is raised for missing data',
        'documents[0].spec.conditions[0].conditionRef: no AlertCondition named None',
    ],
    'spec-sli-schema.yaml': [
        'documents[0].spec: needs exactly one of thresholdMetric or ratioMetric',
    ],
    'spec-slo-example.yaml': [
        'documents[0].spec.budgetingMethod: must be Occurrences, got nothing',
        ('documents[0].spec.indicator.spec.ratioMetric.good.metricSource.metricSourceRef: '
         'DataSource references are not read: write type: sre-streams and its spec here'),
        ('documents[0].spec.indicator.spec.ratioMetric.total.metricSource.metricSourceRef: '
         'DataSource references are not read: write type: sre-streams and its spec here'),
    ],
    'spec-slo-schema.yaml': [
        ("documents[0].spec.budgetingMethod: must be Occurrences, got 'Occurrences | Timeslices | "
         "RatioTimeslices'"),
        'documents[0].spec: needs exactly one of indicator or indicatorRef',
        'documents[0].spec.timeWindow: must be a list of exactly one time window, got 2 items',
        'documents[0].spec.objectives: must be a non-empty list, got null',
    ],
    'treat-low-traffic-timeslices-slo.yaml': [
        ('documents[0].spec.budgetingMethod: Timeslices is not supported: budgets here count '
         'events (Occurrences), and a time-slice budget is not computed exactly yet'),
        "documents[0].spec.indicator.spec.ratioMetric.good.metricSource.type: 'Any' " + NOT_EVENTS,
        "documents[0].spec.indicator.spec.ratioMetric.total.metricSource.type: 'Any' " + NOT_EVENTS,
        ("documents[0].spec.timeWindow[0].calendar.startTime: periods begin at midnight on a "
         "Monday, got '2022-01-01 12:00:00'"),
    ],
}


def test_every_vendored_document_is_covered() -> None:
    assert sorted(p.name for p in DATA.glob("*.yaml")) == sorted(EXPECTED)
    assert (DATA / "LICENSE").read_text().lstrip().startswith("Apache License")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_an_upstream_example_is_refused_with_exact_paths_and_reasons(name: str) -> None:
    with pytest.raises(SloFileError) as caught:
        load_slo_file(DATA / name)
    assert caught.value.problems == EXPECTED[name]
