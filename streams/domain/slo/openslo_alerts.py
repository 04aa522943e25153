"""OpenSLO v1 `AlertCondition` and `AlertPolicy` as multiwindow burn-rate rules.

A `burnrate` condition is one rule: `lookbackWindow` is the long window, the short window is
one twelfth of it (the SRE Workbook's ratio; annotation `sre-streams/short-window` overrides
it), `threshold` is the burn factor and `severity` maps to page or ticket (`SEVERITIES`).
The native rule stores the share of the budget the factor spends in the long window; it is
found here so that the engine's factor is exactly the threshold written.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from streams.domain.durations import format_duration
from streams.domain.slo.fields import NAME as _NAME
from streams.domain.slo.fields import duration as _duration
from streams.domain.slo.fields import kind as _kind
from streams.domain.slo.fields import number as _number
from streams.domain.slo.fields import show as _show
from streams.domain.slo.model import AlertRule, Severity
from streams.domain.slo.openslo_docs import Obj, Report, check_annotations, mapping, read_object, unknown

# Severity words as teams write them, by what they become here (case does not matter).
SEVERITIES: dict[str, Severity] = {
    **{word: Severity.PAGE for word in ("page", "critical", "urgent", "high", "sev1", "sev-1",
                                        "p1", "p0")},
    **{word: Severity.TICKET for word in ("ticket", "warning", "warn", "medium", "low", "info",
                                          "sev2", "sev-2", "sev3", "sev-3", "p2", "p3", "p4")},
}
SHORT_RATIO = 12  # short window = lookbackWindow / 12
_CONDITION_SPEC = {"description", "severity", "condition"}
_CONDITION = {"kind", "op", "threshold", "lookbackWindow", "alertAfter"}
_CONDITION_NOTES = {"rule", "short-window", "resolve-below", "keep-firing-for", "budget-percent"}
_POLICY_SPEC = {"description", "alertWhenNoData", "alertWhenResolved", "alertWhenBreaching",
                "conditions", "notificationTargets"}


@dataclass(frozen=True)
class Condition:
    where: str
    rule: str  # the rule's name: annotation sre-streams/rule, else the condition's name
    severity: Severity
    threshold: float
    percent: float | None  # annotation sre-streams/budget-percent: the share, as written
    long: float
    short: float
    resolve_below: float | None
    keep_for: float
    alert_after: float


@dataclass(frozen=True)
class Policy:
    name: str  # annotation sre-streams/policy, else the AlertPolicy's name
    conditions: tuple[Condition, ...]


def read_condition(obj: Obj, report: Report) -> Condition | None:
    before = report.count
    check_annotations(obj, _CONDITION_NOTES, report)
    unknown(obj.spec, _CONDITION_SPEC, obj.at("spec"), report)
    severity = _severity(obj.spec.get("severity"), obj.at("spec.severity"), report)
    body = mapping(obj.spec.get("condition"), obj.at("spec.condition"), report,
                   "a mapping with kind, op, threshold, lookbackWindow")
    if body is None:
        return None
    where = obj.at("spec.condition")
    unknown(body, _CONDITION, where, report)
    if body.get("kind", "burnrate") != "burnrate":
        report.add(f"{where}.kind", f"only burnrate conditions exist here, got {_show(body.get('kind'))}")
    op = body.get("op", "gte")
    if op == "gt":
        report.warn(f"{where}.op", "gt is read as gte: a rule fires when the burn rate reaches "
                    "the threshold")
    elif op != "gte":
        report.add(f"{where}.op", f"must be gte (or gt): a burn-rate rule fires when the budget "
                   f"burns at the threshold or faster, got {_show(op)}")
    threshold = _number(body.get("threshold"), f"{where}.threshold", report.problems) \
        if "threshold" in body else None
    if "threshold" not in body:
        report.add(f"{where}.threshold", "is required (the burn factor, such as 14.4)")
    elif threshold is not None and threshold <= 0:
        report.add(f"{where}.threshold", f"must be a burn factor > 0, got {_show(threshold)}")
    long = _duration(body.get("lookbackWindow"), f"{where}.lookbackWindow", report.problems)
    after = body.get("alertAfter", "0m")
    alert_after = 0.0
    if not (isinstance(after, str | int) and str(after).rstrip("smhdw") == "0"):
        alert_after = _duration(after, f"{where}.alertAfter", report.problems) or 0.0
    short = None if long is None else long / SHORT_RATIO
    if "short-window" in obj.annotations:
        short = _duration(obj.annotations["short-window"],
                          obj.at("metadata.annotations.sre-streams/short-window"), report.problems)
    if short is not None and long is not None and short >= long:
        report.add(obj.at("metadata.annotations.sre-streams/short-window"),
                   f"must be shorter than lookbackWindow ({format_duration(long)})")
    resolve_below = None
    if "resolve-below" in obj.annotations:
        where_rb = obj.at("metadata.annotations.sre-streams/resolve-below")
        resolve_below = _fraction(obj.annotations["resolve-below"], where_rb, report)
    keep = 0.0
    if "keep-firing-for" in obj.annotations:
        keep = _duration(obj.annotations["keep-firing-for"],
                         obj.at("metadata.annotations.sre-streams/keep-firing-for"),
                         report.problems) or 0.0
    percent = None
    if "budget-percent" in obj.annotations:
        where_bp = obj.at("metadata.annotations.sre-streams/budget-percent")
        try:
            percent = float(obj.annotations["budget-percent"])
        except ValueError:
            report.add(where_bp, f"must be a number, got {_show(obj.annotations['budget-percent'])}")
    rule = obj.annotations.get("rule", obj.name)
    if not _NAME.match(rule):
        report.add(obj.at("metadata.annotations.sre-streams/rule"),
                   f"must match [a-z0-9-]+, got {_show(rule)}")
    if report.count > before:
        return None
    assert severity is not None and threshold is not None and long is not None
    assert short is not None
    return Condition(obj.where, rule, severity, threshold, percent, long, short, resolve_below,
                     keep, alert_after)


def _severity(value: object, path: str, report: Report) -> Severity | None:
    if isinstance(value, str) and value.lower() in SEVERITIES:
        return SEVERITIES[value.lower()]
    pages = ", ".join(w for w, s in SEVERITIES.items() if s is Severity.PAGE)
    tickets = ", ".join(w for w, s in SEVERITIES.items() if s is Severity.TICKET)
    report.add(path, f"must be a severity that pages ({pages}) or opens a ticket ({tickets}), "
               f"got {_show(value) if value is not None else 'nothing'}")
    return None


def _fraction(text: str, path: str, report: Report) -> float | None:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value <= 1:
        report.add(path, f"must be a fraction of the threshold in (0, 1], got {_show(text)}")
        return None
    return value


def read_policy(obj: Obj, conditions: Mapping[str, Condition | None],
                report: Report) -> Policy | None:
    """An AlertPolicy; its conditions inlined or referenced by name (`conditionRef`).

    `conditions` are the AlertCondition documents, read (None: refused, and reported).
    """
    before = report.count
    failed = False
    check_annotations(obj, {"policy"}, report)
    unknown(obj.spec, _POLICY_SPEC, obj.at("spec"), report)
    for key, honoured, reason in (
            ("alertWhenBreaching", True, "alerts always fire when a condition breaches"),
            ("alertWhenNoData", False, "no alert is raised for missing data")):
        if key in obj.spec and obj.spec[key] is not honoured:
            report.add(obj.at(f"spec.{key}"), f"must be {str(honoured).lower()}: {reason}")
    if obj.spec.get("alertWhenResolved", True) is not True:
        report.warn(obj.at("spec.alertWhenResolved"), "ignored: every resolution is published "
                    "on the alerts topic")
    if obj.spec.get("notificationTargets"):
        report.warn(obj.at("spec.notificationTargets"), "ignored: alerts reach receivers by the "
                    "routes of the notify section")
    raw = obj.spec.get("conditions", [])
    if not isinstance(raw, list):
        report.add(obj.at("spec.conditions"), f"must be a list, got {_kind(raw)}")
        raw = []
    found: list[Condition] = []
    for index, item in enumerate(raw):
        where = obj.at(f"spec.conditions[{index}]")
        body = mapping(item, where, report, "a conditionRef or an inlined AlertCondition")
        if body is None:
            continue
        if "conditionRef" in body:
            unknown(body, {"conditionRef"}, where, report)
            ref = body["conditionRef"]
            if not isinstance(ref, str) or ref not in conditions:
                report.add(f"{where}.conditionRef", f"no AlertCondition named {_show(ref)}")
                continue
            condition = conditions[ref]
            failed = failed or condition is None
        else:
            inline = read_object(body, where, report, kind="AlertCondition", inline=True)
            condition = None if inline is None else read_condition(inline, report)
        if condition is not None:
            found.append(condition)
    if report.count > before or failed:
        return None
    return Policy(obj.annotations.get("policy", obj.name), tuple(found))


def rules_for(conditions: tuple[Condition, ...], window: float,
              report: Report) -> tuple[AlertRule, ...] | None:
    """The conditions as rules of an SLO with this period, or None (problems reported)."""
    rules: list[AlertRule] = []
    seen: dict[str, str] = {}
    before = report.count
    for condition in conditions:
        if condition.rule in seen:
            report.add(condition.where, f"rule name {_show(condition.rule)} is taken by "
                       f"{seen[condition.rule]} in the same SLO")
            continue
        seen[condition.rule] = condition.where
        percent = budget_percent(condition.threshold, condition.long, window)
        if condition.percent is not None:
            written = AlertRule("", condition.severity, condition.long, condition.short,
                                condition.percent).factor(window)
            if written != condition.threshold:
                report.add(f"{condition.where}.metadata.annotations.sre-streams/budget-percent",
                           f"{condition.percent:g}% of a {format_duration(window)} budget in "
                           f"{format_duration(condition.long)} is a burn factor of {written!r}, "
                           f"not the threshold {condition.threshold!r}")
                continue
            percent = condition.percent
        if not 0 < percent <= 100:
            report.add(f"{condition.where}.spec.condition.threshold",
                       f"burn factor {condition.threshold:g} over {format_duration(condition.long)} "
                       f"spends {percent:.4g}% of a {format_duration(window)} budget: at most 100%")
            continue
        rules.append(AlertRule(condition.rule, condition.severity, condition.long,
                               condition.short, percent, condition.resolve_below,
                               condition.keep_for, condition.alert_after))
    return None if report.count > before else tuple(rules)


def budget_percent(threshold: float, long: float, window: float) -> float:
    """The budget share whose factor over `window` is exactly `threshold` (when one exists)."""
    exact = float(Fraction(threshold) * Fraction(long) * 100 / Fraction(window))
    candidates = [exact]
    up = down = exact
    for _ in range(4):  # the nearest float to the exact share first, then its neighbours
        up, down = math.nextafter(up, math.inf), math.nextafter(down, -math.inf)
        candidates += [up, down]
    matching = [share for share in candidates
                if AlertRule("", Severity.PAGE, long, long, share).factor(window) == threshold]
    if matching:  # several floats may give the same factor: the one written shortest
        return min(matching, key=lambda share: len(repr(share)))
    return exact


def condition_doc(name: str, rule: AlertRule, window: float, rule_note: str) -> dict[str, Any]:
    """An AlertCondition document for a native rule of an SLO with period `window`."""
    notes = {"sre-streams/rule": rule_note, "sre-streams/budget-percent": repr(rule.budget_percent)}
    if rule.long / SHORT_RATIO != rule.short:
        notes["sre-streams/short-window"] = format_duration(rule.short)
    if rule.resolve_below is not None:
        notes["sre-streams/resolve-below"] = repr(rule.resolve_below)
    if rule.keep_firing_for:
        notes["sre-streams/keep-firing-for"] = format_duration(rule.keep_firing_for)
    return {
        "apiVersion": "openslo/v1", "kind": "AlertCondition",
        "metadata": {"name": name, "annotations": notes},
        "spec": {"severity": rule.severity.value,
                 "condition": {"kind": "burnrate", "op": "gte", "threshold": rule.factor(window),
                               "lookbackWindow": format_duration(rule.long),
                               "alertAfter": format_duration(rule.alert_after)
                               if rule.alert_after else "0m"}},
    }
