"""OpenSLO v1 documents read into SLOs: what loads, what warns, what is refused and where."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.domain.slo.calendar import Calendar
from streams.domain.slo.loader import SloFileError, load_slo_file, parse_slo_text
from streams.domain.slo.model import MULTIWINDOW, AvailabilitySli, LatencySli, Severity

SET = """\
apiVersion: openslo/v1
kind: Service
metadata: {name: checkout}
spec: {description: Checkout}
---
apiVersion: openslo/v1
kind: AlertCondition
metadata: {name: fast-burn, annotations: {sre-streams/rule: page-fast}}
spec:
  severity: critical
  condition: {kind: burnrate, op: gte, threshold: 14.4, lookbackWindow: 1h, alertAfter: 0m}
---
apiVersion: openslo/v1
kind: AlertPolicy
metadata: {name: fast}
spec:
  alertWhenBreaching: true
  conditions: [{conditionRef: fast-burn}]
  notificationTargets: [{targetRef: mail}]
---
apiVersion: openslo/v1
kind: SLI
metadata: {name: orders-latency}
spec:
  thresholdMetric:
    metricSource:
      type: sre-streams
      spec: {match: {operation: POST /orders}, min_events: 10}
---
apiVersion: openslo/v1
kind: SLO
metadata: {name: orders-latency, labels: {team: payments}}
spec:
  service: checkout
  indicatorRef: orders-latency
  timeWindow: [{duration: 4w, isRolling: true}]
  budgetingMethod: Occurrences
  objectives: [{op: lte, value: 300, targetPercent: 99.5}]
  alertPolicies:
    - alertPolicyRef: fast
    - kind: AlertPolicy
      metadata: {name: slow}
      spec:
        conditions:
          - kind: AlertCondition
            metadata: {name: slow-burn}
            spec:
              severity: sev3
              condition: {op: gt, threshold: 1, lookbackWindow: 3d, alertAfter: 10m}
---
apiVersion: openslo/v1
kind: SLO
metadata: {name: availability, annotations: {sre-streams/runbook-url: https://r.example/a,
                                             sre-streams/warn-below: "0.5"}}
spec:
  service: checkout
  indicator:
    metadata: {name: availability}
    spec:
      ratioMetric:
        counter: true
        bad: {metricSource: {type: sre-streams, spec: {bad_status: [5xx, 429]}}}
        total: {metricSource: {type: sre-streams, spec: {group_by: [region], max_series: 5}}}
  budgetingMethod: Occurrences
  objectives:
    - {displayName: Internal Goal, target: 0.999, op: gt, value: 1}
    - {target: 0.99}
"""


def test_a_set_loads_with_references_inlined_objects_and_warnings() -> None:
    loaded = parse_slo_text(SET)
    latency, internal, second = loaded.slos
    assert latency.name == "orders-latency" and latency.service == "checkout"
    assert latency.sli == LatencySli(300.0) and latency.objective == 0.995
    assert latency.window == 28 * 86400 and latency.min_events == 10
    assert latency.match == (("operation", "POST /orders"),)
    assert latency.labels == (("team", "payments"),)
    fast, slow = latency.policy.rules
    assert (fast.name, fast.severity, fast.long, fast.short) == ("page-fast", Severity.PAGE, 3600, 300)
    assert fast.factor(latency.window) == 14.4
    assert (slow.name, slow.severity, slow.long, slow.short) == ("slow-burn", Severity.TICKET,
                                                                  3 * 86400, 6 * 3600)
    assert slow.factor(latency.window) == 1
    assert (fast.alert_after, slow.alert_after) == (0, 600)  # a minimum firing time
    assert latency.policy.name == "fast-slow"
    # several objectives: several SLOs, by display name or position
    assert (internal.name, second.name) == ("availability-internal-goal", "availability-1")
    assert internal.sli == AvailabilitySli(frozenset({5}), frozenset({429}))
    assert (internal.objective, second.objective) == (0.999, 0.99)
    assert internal.group_by == ("region",) and internal.max_series == 5
    assert internal.policy == MULTIWINDOW  # no alert policy: the default one
    assert internal.runbook_url == "https://r.example/a"
    assert internal.budget_policy.warn_below == 0.5
    assert loaded.warnings == (
        "documents[2].spec.notificationTargets: ignored: alerts reach receivers by the routes of "
        "the notify section",
        "documents[4].spec.alertPolicies[1].spec.conditions[0].spec.condition.op: gt is read as "
        "gte: a rule fires when the burn rate reaches the threshold",
        "documents[5].spec.indicator.spec.ratioMetric.counter: ignored: events are counted one "
        "by one",
        "documents[5].spec.objectives[0].op: ignored: a ratio SLI is classified by its good (or "
        "bad) source",
        "documents[5].spec.objectives[0].value: ignored: a ratio SLI is classified by its good "
        "(or bad) source",
    )


def problems(text: str) -> list[str]:
    with pytest.raises(SloFileError) as caught:
        parse_slo_text(text)
    return caught.value.problems


def test_a_prometheus_source_is_refused_with_its_path() -> None:
    text = SET.replace("bad: {metricSource: {type: sre-streams", "bad: {metricSource: {type: prometheus")
    assert problems(text) == [
        "documents[5].spec.indicator.spec.ratioMetric.bad.metricSource.type: 'prometheus' is not "
        "an event source this engine reads: it counts the request events it consumes, described "
        "by type: sre-streams (see docs/contracts.md)"]


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("budgetingMethod: Occurrences\n  objectives: [{op", "budgetingMethod: Timeslices\n  objectives: [{op",
     "documents[4].spec.budgetingMethod: Timeslices is not supported: budgets here count events "
     "(Occurrences), and a time-slice budget is not computed exactly yet"),
    ("[{duration: 4w, isRolling: true}]", "[{duration: 1M, calendar: {timeZone: Europe/Paris, "
     "startTime: '2026-01-02 00:00:00'}}]", "documents[4].spec.timeWindow[0].calendar.startTime: "
     "periods begin at midnight on the 1st of a month, got '2026-01-02 00:00:00'"),
    ("[{duration: 4w, isRolling: true}]", "[{duration: 2w, calendar: {timeZone: UTC}}]",
     "documents[4].spec.timeWindow[0].duration: a calendar window must be 1M, 1Q or 1w, got '2w'"),
    ("[{duration: 4w, isRolling: true}]", "[{duration: 1M, isRolling: true}]",
     "documents[4].spec.timeWindow[0].duration: must be a rolling duration such as 28d, 4w or "
     "30d (months, quarters and years have no fixed length), got '1M'"),
    ("indicatorRef: orders-latency", "indicatorRef: nope", "documents[4].spec.indicatorRef: no SLI "
     "named 'nope'"),
    ("alertPolicyRef: fast", "alertPolicyRef: quick", "documents[4].spec.alertPolicies[0]."
     "alertPolicyRef: no AlertPolicy named 'quick'"),
    ("conditionRef: fast-burn", "conditionRef: fast", "documents[2].spec.conditions[0]."
     "conditionRef: no AlertCondition named 'fast'"),
    ("service: checkout\n  indicatorRef", "service: payments\n  indicatorRef",
     "documents[4].spec.service: no Service named 'payments' (known: checkout)"),
    ("op: lte, value: 300", "op: lt, value: 300", "documents[4].spec.objectives[0].op: must be lte:"
     " an event is good when latency_ms <= value, got 'lt'"),
    ("threshold: 14.4, lookbackWindow: 1h, alertAfter: 0m", "threshold: 14.4, lookbackWindow: 1h, "
     "alertAfter: soon", "documents[1].spec.condition.alertAfter: must be a duration such as 5m, "
     "1h or 30d, got 'soon'"),
    ("threshold: 1, lookbackWindow: 3d", "threshold: 20, lookbackWindow: 3d",
     "documents[4].spec.alertPolicies[1].spec.conditions[0].spec.condition.threshold: burn factor "
     "20 over 3d spends 214.3% of a 4w budget: at most 100%"),
    ("severity: sev3", "severity: meh", "documents[4].spec.alertPolicies[1].spec.conditions[0]."
     "spec.severity: must be a severity that pages (page, critical, urgent, high, sev1, sev-1, p1,"
     " p0) or opens a ticket (ticket, warning, warn, medium, low, info, sev2, sev-2, sev3, sev-3, "
     "p2, p3, p4), got 'meh'"),
    ("- {target: 0.99}", "- {target: 0.99, indicatorRef: x}", "documents[5].spec.objectives[1]."
     "indicatorRef: composite SLOs are not supported: one indicator per SLO"),
    ("    - {target: 0.99}\n", "    - {target: 0.99}\n---\napiVersion: openslo/v1\nkind: Service\n"
     "metadata: {name: checkout}\n", "documents[6].metadata.name: duplicate Service name "
     "'checkout' (also documents[0])"),
    ("spec: {group_by: [region], max_series: 5}", "spec: {group_by: [ts], max_series: 5}",
     "documents[5].spec.indicator.spec.ratioMetric.total.metricSource.spec.group_by[0]: cannot "
     "group by 'ts': it is a measurement"),
])
def test_what_cannot_be_honoured_is_refused_with_path_and_reason(
        old: str, new: str, expected: str) -> None:
    assert old in SET
    assert problems(SET.replace(old, new)) == [expected]


def test_a_directory_is_one_set_and_problems_name_the_file(tmp_path: Path) -> None:
    documents = SET.split("---\n")
    (tmp_path / "alerting").mkdir()
    (tmp_path / "alerting" / "policies.yaml").write_text("---\n".join(documents[1:3]))
    (tmp_path / "slos.yml").write_text("---\n".join(documents[:1] + documents[3:]))
    (tmp_path / "notes.txt").write_text("not read")
    assert load_slo_file(tmp_path).slos == parse_slo_text(SET).slos
    (tmp_path / "alerting" / "policies.yaml").write_text(
        "---\n".join(documents[1:3]).replace("severity: critical", "severity: loud"))
    with pytest.raises(SloFileError) as caught:
        load_slo_file(tmp_path)
    assert caught.value.problems[0].startswith(
        "alerting/policies.yaml: documents[0].spec.severity: must be a severity that pages")


def test_incidents_and_notify_come_from_one_native_document_and_nothing_else() -> None:
    extra = ("---\napiVersion: sre-streams/v1\nincidents: {reopen_within: 2h}\n"
             "notify: {receivers: [{name: hook, webhook: {url: 'http://127.0.0.1:9/h'}}]}\n")
    loaded = parse_slo_text(SET + extra)
    assert loaded.incidents.reopen_within == 7200 and list(loaded.notify.receivers) == ["hook"]
    assert problems(SET + extra.replace("incidents:", "slos: []\nincidents:")) == [
        "documents[6].slos: an OpenSLO set takes only incidents, notify, toil and capacity from a "
        "sre-streams/v1 document: SLOs and alerting are OpenSLO objects"]


def test_a_native_file_of_several_documents_is_refused_in_one_line() -> None:
    assert problems("apiVersion: sre-streams/v1\nslos: []\n---\napiVersion: sre-streams/v1\n") \
        == ["2 YAML documents: only an OpenSLO set (apiVersion: openslo/v1) holds more than one"]


def test_a_calendar_window_is_a_calendar_period() -> None:
    text = SET.replace("[{duration: 4w, isRolling: true}]",
                       "[{duration: 1w, isRolling: false, calendar: {startTime: 2024-01-01 00:00:00,"
                       " timeZone: Europe/Berlin}}]")
    latency = parse_slo_text(text).slos[0]
    assert latency.calendar == Calendar("week", "Europe/Berlin")
    assert latency.window == 7 * 86400
