"""OpenSLO v1 documents read into the native SLO model (docs/contracts.md, section N).

A set is the documents of one multi-document file, or of every `*.yaml`/`*.yml` file under a
directory. Kinds `SLO`, `SLI`, `AlertPolicy`, `AlertCondition` and `Service` are read, and
refer to each other by name; an SLI counts request events when its `metricSource` is of
`type: sre-streams`. Anything this engine cannot honour is refused with its path and the
reason; fields that change nothing here are read with a warning. One optional
`apiVersion: sre-streams/v1` document may add the `incidents` and `notify` sections.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from streams.domain.capacity.loader import parse_capacity
from streams.domain.capacity.model import CapacityPlan
from streams.domain.durations import DurationError, parse_duration
from streams.domain.incidents.book import IncidentPolicy
from streams.domain.notify.receivers import NotifyConfig
from streams.domain.slo.calendar import Calendar, CalendarError
from streams.domain.slo.fields import UNSET as _UNSET
from streams.domain.slo.fields import kind as _kind
from streams.domain.slo.fields import labels as _labels
from streams.domain.slo.fields import number as _number
from streams.domain.slo.fields import show as _show
from streams.domain.slo.loader import (
    SloFileError,
    _budget_policy,
    _check_plan,
    _incidents,
    _notify,
)
from streams.domain.slo.model import (
    BUILTIN_POLICIES,
    MULTIWINDOW,
    AlertPolicy,
    BudgetPolicy,
    LatencySli,
    Sli,
    Slo,
    SloFile,
)
from streams.domain.slo.openslo_alerts import (
    Condition,
    Policy,
    read_condition,
    read_policy,
    rules_for,
)
from streams.domain.slo.openslo_docs import (
    NATIVE_VERSION,
    Obj,
    Report,
    check_annotations,
    mapping,
    read_object,
    slug,
    unknown,
)
from streams.domain.slo.openslo_sli import Indicator, read_sli
from streams.domain.slo.yaml_reader import load_yaml_documents
from streams.domain.toil.config import ToilConfig, parse_toil

_SLO_SPEC = {"description", "service", "indicator", "indicatorRef", "timeWindow",
             "budgetingMethod", "objectives", "alertPolicies"}
_SLO_NOTES = {"runbook-url", "warn-below", "freeze-below", "exceptions"}
_OBJECTIVE = {"displayName", "op", "value", "target", "targetPercent", "timeSliceTarget",
              "timeSliceWindow", "indicator", "indicatorRef", "compositeWeight"}
_WINDOW = {"duration", "isRolling", "calendar"}
_CALENDAR_UNITS = {"1M": "month", "1Q": "quarter", "1w": "week"}


def is_openslo(document: object) -> bool:
    """Whether a decoded document asks for OpenSLO (any `openslo/...` apiVersion)."""
    return isinstance(document, Mapping) and str(document.get("apiVersion", "")).startswith("openslo/")


def parse_openslo(documents: list[tuple[str, object]], source: str = "") -> SloFile:
    """The SLO file a set of decoded OpenSLO documents describes (each with its place)."""
    report = Report()
    objects: dict[str, dict[str, Obj]] = {}
    extras: list[tuple[str, Mapping[Any, Any]]] = []
    for where, raw in documents:
        if raw is None:
            continue  # an empty document (a trailing ---)
        if isinstance(raw, Mapping) and raw.get("apiVersion") == NATIVE_VERSION:
            extras.append((where, raw))
            continue
        obj = read_object(raw, where, report)
        if obj is None:
            continue
        same = objects.setdefault(obj.kind, {})
        if obj.name in same:
            report.add(obj.at("metadata.name"), f"duplicate {obj.kind} name {_show(obj.name)} "
                       f"(also {same[obj.name].where})")
            continue
        same[obj.name] = obj
    for kind, reason in (("DataSource", "metric sources are the request events consumed"),
                         ("AlertNotificationTarget", "alerts reach receivers by the routes of "
                          "the notify section")):
        for obj in objects.get(kind, {}).values():
            report.warn(obj.where, f"{kind} ignored: {reason}")
    services = objects.get("Service", {})
    for obj in services.values():
        unknown(obj.spec, {"description"}, obj.at("spec"), report)
    reader = _SloReader(report, objects)
    slos: dict[str, Slo] = {}
    for obj in objects.get("SLO", {}).values():
        for slo in reader.slos(obj):
            if slo.name in slos:
                report.add(obj.where, f"SLO name {_show(slo.name)} is taken twice")
            slos[slo.name] = slo
    sections = _extras(extras, report)
    for index, runbook in enumerate(sections.toil.runbooks):
        if runbook.match.slo is not None and runbook.match.slo not in slos:
            report.add(f"{extras[0][0]}.toil.runbooks[{index}].match.slo",
                       f"unknown SLO {_show(runbook.match.slo)}")
    if not objects.get("SLO") and not report.count:
        report.add("", "no SLO document (kind: SLO, apiVersion: openslo/v1)")
    if report.count:
        raise SloFileError(report.problems.lines, source)
    policies = dict(BUILTIN_POLICIES)
    for slo in slos.values():
        policies.setdefault(slo.policy.name, slo.policy)
    return SloFile(tuple(slos.values()), policies, sections.incidents, sections.notify,
                   toil=sections.toil, capacity=sections.capacity,
                   warnings=tuple(report.warnings))


class _Extras(NamedTuple):
    incidents: IncidentPolicy = IncidentPolicy()
    notify: NotifyConfig = NotifyConfig()
    toil: ToilConfig = ToilConfig()
    capacity: tuple[CapacityPlan, ...] = ()


def _extras(extras: list[tuple[str, Mapping[Any, Any]]], report: Report) -> _Extras:
    """The one sre-streams/v1 document of a set: the file-level sections, nothing else."""
    if not extras:
        return _Extras()
    for where, _ in extras[1:]:
        report.add(where, f"a second {NATIVE_VERSION} document (the first is {extras[0][0]})")
    where, raw = extras[0]
    for key in raw:
        if key not in {"apiVersion", "incidents", "notify", "toil", "capacity"}:
            report.add(f"{where}.{key}", f"an OpenSLO set takes only incidents, notify, toil and "
                       f"capacity from a {NATIVE_VERSION} document: SLOs and alerting are "
                       "OpenSLO objects")
    incidents = _incidents(raw.get("incidents", {}), f"{where}.incidents", report.problems)
    notify = _notify(raw.get("notify", {}), f"{where}.notify", report.problems)
    for index, level in enumerate(incidents.escalation):
        for name in level.notify:
            if name not in notify.receivers:
                report.add(f"{where}.incidents.escalation.levels[{index}].notify",
                           f"unknown receiver {_show(name)} (define it under notify.receivers)")
    toil = parse_toil(raw.get("toil"), f"{where}.toil", report.problems)
    capacity = parse_capacity(raw.get("capacity"), f"{where}.capacity", report.problems)
    return _Extras(incidents, notify, toil, capacity)


class _SloReader:
    def __init__(self, report: Report, objects: Mapping[str, Mapping[str, Obj]]) -> None:
        self.report = report
        self.objects = objects
        self.services = set(objects.get("Service", {}))
        # Every object is read once, referenced or not (None: refused, and reported).
        self.conditions = {name: read_condition(obj, report)
                           for name, obj in objects.get("AlertCondition", {}).items()}
        self.policies = {name: read_policy(obj, self.conditions, report)
                         for name, obj in objects.get("AlertPolicy", {}).items()}
        self.indicators = {name: read_sli(obj, report) for name, obj in objects.get("SLI", {}).items()}

    def slos(self, obj: Obj) -> list[Slo]:
        report = self.report
        before = report.count
        spec = obj.spec
        unknown(spec, _SLO_SPEC, obj.at("spec"), report)
        check_annotations(obj, _SLO_NOTES, report)
        service = spec.get("service")
        if not isinstance(service, str) or not service:
            report.add(obj.at("spec.service"), f"must name the service whose events count, got "
                       f"{_kind(service if 'service' in spec else _UNSET)}")
        elif self.services and service not in self.services:
            report.add(obj.at("spec.service"), f"no Service named {_show(service)} "
                       f"(known: {', '.join(sorted(self.services))})")
        method = spec.get("budgetingMethod", _UNSET)
        if method in ("Timeslices", "RatioTimeslices"):
            report.add(obj.at("spec.budgetingMethod"), f"{method} is not supported: budgets "
                       "here count events (Occurrences), and a time-slice budget is not "
                       "computed exactly yet")
        elif method != "Occurrences":
            report.add(obj.at("spec.budgetingMethod"), f"must be Occurrences, got "
                       f"{_kind(method)}")
        indicator = self._indicator(obj)
        period = self._window(obj)
        window, calendar = period if period is not None else (None, None)
        conditions, policy_name = self._conditions(obj)
        labels = _labels(obj.labels if obj.labels is not None else {},
                         obj.at("metadata.labels"), report.problems)
        budget = self._budget_policy(obj)
        objectives = spec.get("objectives")
        if not isinstance(objectives, list) or not objectives:
            report.add(obj.at("spec.objectives"), f"must be a non-empty list, got {_kind(objectives)}")
            objectives = []
        targets = [self._objective(obj, i, raw, indicator) for i, raw in enumerate(objectives)]
        if report.count > before or indicator is None or window is None or conditions is None:
            return []
        if conditions:
            rules = rules_for(conditions, window, report)
            if rules is None:
                return []
            policy = AlertPolicy(policy_name or obj.name, rules)
        else:
            policy = MULTIWINDOW
        found: list[Slo] = []
        for index, target in enumerate(targets):
            assert target is not None and isinstance(service, str)
            objective, sli, display = target
            name = obj.name
            if len(targets) > 1:
                name = f"{obj.name}-{slug(display) if display and slug(display) else index}"
            slo = Slo(name=name, service=service, objective=objective, sli=sli, window=window,
                      policy=policy, min_events=indicator.min_events, match=indicator.match,
                      group_by=indicator.group_by, max_series=indicator.max_series,
                      labels=labels, runbook_url=obj.annotations.get("runbook-url"),
                      budget_policy=budget, calendar=calendar)
            self._check_windows(slo, obj)
            found.append(slo)
        return [] if report.count > before else found

    def _check_windows(self, slo: Slo, obj: Obj) -> None:
        for rule in slo.policy.rules:
            if rule.long > slo.window:
                self.report.add(obj.at("spec.timeWindow"),
                                f"{slo.window_label} is shorter than the lookbackWindow "
                                f"{rule.long_label} of alert condition {_show(rule.name)}")
        _check_plan(slo, obj.at("spec.timeWindow"), self.report.problems)

    def _window(self, obj: Obj) -> tuple[float, Calendar | None] | None:
        raw = obj.spec.get("timeWindow", [{"duration": "30d", "isRolling": True}])
        where = obj.at("spec.timeWindow")
        if not isinstance(raw, list) or len(raw) != 1:
            got = f"{len(raw)} items" if isinstance(raw, list) else _kind(raw)
            self.report.add(where, f"must be a list of exactly one time window, got {got}")
            return None
        item = mapping(raw[0], f"{where}[0]", self.report, "a mapping with duration and isRolling")
        if item is None:
            return None
        unknown(item, _WINDOW, f"{where}[0]", self.report)
        duration = item.get("duration")
        if "calendar" in item or item.get("isRolling") is False:
            calendar = self._calendar(item, f"{where}[0]")
            return None if calendar is None else (calendar.nominal, calendar)
        try:
            if isinstance(duration, str) and duration[-1:] in ("M", "Q", "Y"):
                raise DurationError("no fixed length")
            return parse_duration(duration), None  # type: ignore[arg-type]
        except (DurationError, TypeError, OverflowError):
            self.report.add(f"{where}[0].duration", f"must be a rolling duration such as 28d, "
                            f"4w or 30d (months, quarters and years have no fixed length), got "
                            f"{_show(duration)}")
            return None

    def _calendar(self, item: Mapping[Any, Any], where: str) -> Calendar | None:
        """A calendar-aligned window: 1M, 1Q or 1w starting at a local midnight."""
        unit = _CALENDAR_UNITS.get(str(item.get("duration")))
        if unit is None:
            self.report.add(f"{where}.duration", f"a calendar window must be 1M, 1Q or 1w, got "
                            f"{_show(item.get('duration'))}")
        if item.get("isRolling", False) is not False:
            self.report.add(f"{where}.isRolling", "must be false with calendar")
        body = mapping(item.get("calendar", {}), f"{where}.calendar", self.report,
                       "a mapping with startTime and timeZone")
        if body is None or unit is None:
            return None
        unknown(body, {"startTime", "timeZone"}, f"{where}.calendar", self.report)
        try:
            calendar = Calendar(unit, str(body.get("timeZone", "UTC")))
        except CalendarError as exc:
            self.report.add(f"{where}.calendar.timeZone", str(exc))
            return None
        start = body.get("startTime")
        if start is not None:
            try:
                local = start if isinstance(start, datetime) else datetime.fromisoformat(str(start))
            except ValueError:
                self.report.add(f"{where}.calendar.startTime", f"must be a date and time such as "
                                f"2024-01-01 00:00:00, got {_show(start)}")
                return None
            local = local.replace(tzinfo=calendar.zone)
            if calendar.bounds(local.timestamp() + 1)[0] != local.timestamp():
                first = {"month": "the 1st of a month", "quarter": "1 January, April, July or "
                         "October", "week": "a Monday"}[unit]
                self.report.add(f"{where}.calendar.startTime", f"periods begin at midnight on "
                                f"{first}, got {_show(str(start))}")
                return None
        return calendar

    def _budget_policy(self, obj: Obj) -> BudgetPolicy:
        notes = obj.annotations
        written: dict[str, object] = {}
        for key in ("warn-below", "freeze-below"):
            if key in notes:
                try:
                    written[key.replace("-", "_")] = float(notes[key])
                except ValueError:
                    written[key.replace("-", "_")] = notes[key]
        if "exceptions" in notes:
            written["exceptions"] = [e.strip() for e in notes["exceptions"].split(",") if e.strip()]
        return _budget_policy(written, BudgetPolicy(), obj.at("metadata.annotations.sre-streams"),
                              self.report.problems)

    def _conditions(self, obj: Obj) -> tuple[tuple[Condition, ...] | None, str | None]:
        """The conditions of every alert policy of an SLO, and the name the policy goes by."""
        raw = obj.spec.get("alertPolicies") or []
        where = obj.at("spec.alertPolicies")
        if not isinstance(raw, list):
            self.report.add(where, f"must be a list, got {_kind(raw)}")
            return None, None
        before = self.report.count
        policies: list[Policy] = []
        failed = False
        for index, item in enumerate(raw):
            at = f"{where}[{index}]"
            body = mapping(item, at, self.report, "an alertPolicyRef or an inlined AlertPolicy")
            if body is None:
                continue
            if "alertPolicyRef" in body:
                unknown(body, {"alertPolicyRef"}, at, self.report)
                ref = body["alertPolicyRef"]
                if not isinstance(ref, str) or ref not in self.policies:
                    self.report.add(f"{at}.alertPolicyRef", f"no AlertPolicy named {_show(ref)}")
                    continue
                policy = self.policies[ref]
            else:
                target = read_object(body, at, self.report, kind="AlertPolicy", inline=True)
                policy = None if target is None else read_policy(target, self.conditions,
                                                                 self.report)
            failed = failed or policy is None
            if policy is not None:
                policies.append(policy)
        if self.report.count > before or failed:
            return None, None
        names = {policy.name for policy in policies if policy.conditions}
        name = names.pop() if len(names) == 1 else "-".join(p.name for p in policies) or None
        return tuple(c for policy in policies for c in policy.conditions), name

    def _indicator(self, obj: Obj) -> Indicator | None:
        spec = obj.spec
        if ("indicator" in spec) == ("indicatorRef" in spec):
            self.report.add(obj.at("spec"), "needs exactly one of indicator or indicatorRef")
            return None
        if "indicatorRef" in spec:
            ref = spec["indicatorRef"]
            if not isinstance(ref, str) or ref not in self.indicators:
                self.report.add(obj.at("spec.indicatorRef"), f"no SLI named {_show(ref)}")
                return None
            return self.indicators[ref]
        sli = read_object(spec["indicator"], obj.at("spec.indicator"), self.report,
                          kind="SLI", inline=True)
        return None if sli is None else read_sli(sli, self.report)

    def _objective(self, obj: Obj, index: int, raw: object,
                   indicator: Indicator | None) -> tuple[float, Sli, str | None] | None:
        report = self.report
        where = obj.at(f"spec.objectives[{index}]")
        body = mapping(raw, where, report, "a mapping with target or targetPercent")
        if body is None:
            return None
        before = report.count
        unknown(body, _OBJECTIVE, where, report)
        for key in ("indicator", "indicatorRef", "compositeWeight"):
            if key in body:
                report.add(f"{where}.{key}", "composite SLOs are not supported: one indicator "
                           "per SLO")
        for key in ("timeSliceTarget", "timeSliceWindow"):
            if key in body:
                report.warn(f"{where}.{key}", "ignored: the budget counts events (Occurrences)")
        display = body.get("displayName")
        if display is not None and not isinstance(display, str):
            report.add(f"{where}.displayName", f"must be a string, got {_kind(display)}")
        objective = self._target(body, where)
        sli: Sli | None = None
        if indicator is not None and indicator.threshold is not None:
            op, value = body.get("op"), body.get("value")
            if op != "lte":
                report.add(f"{where}.op", "must be lte: an event is good when latency_ms <= value"
                           f", got {_show(op) if op is not None else 'nothing'}")
            number = _number(value if "value" in body else _UNSET, f"{where}.value", report.problems)
            if number is not None and number < 0:
                report.add(f"{where}.value", f"must be >= 0, got {number}")
            elif number is not None:
                sli = LatencySli(number)
        elif indicator is not None:
            sli = indicator.sli
            for key in ("op", "value"):
                if key in body:
                    report.warn(f"{where}.{key}", "ignored: a ratio SLI is classified by its "
                                "good (or bad) source")
        if report.count > before or objective is None or sli is None:
            return None
        return objective, sli, display if isinstance(display, str) else None

    def _target(self, body: Mapping[Any, Any], where: str) -> float | None:
        if ("target" in body) == ("targetPercent" in body):
            self.report.add(where, "needs exactly one of target or targetPercent")
            return None
        key = "target" if "target" in body else "targetPercent"
        value = body[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.report.add(f"{where}.{key}", f"must be a number, got {_show(value)}")
            return None
        try:
            objective = float(value) if key == "target" else float(Decimal(str(value)) / 100)
        except (InvalidOperation, OverflowError):
            objective = float("nan")
        if not 0 < objective < 1:
            bound = "(0, 1)" if key == "target" else "(0, 100)"
            self.report.add(f"{where}.{key}", f"must be in {bound}, got {_show(value)}")
            return None
        return objective



def load_openslo_directory(directory: Path) -> SloFile:
    """Every `*.yaml` and `*.yml` file under `directory` (sorted by path) as one set."""
    from streams.domain.slo.loader import yaml_problem

    source = str(directory)
    files = sorted(p for p in directory.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    if not files:
        raise SloFileError(["no *.yaml or *.yml file in the directory"], source)
    documents: list[tuple[str, object]] = []
    problems: list[str] = []
    for path in files:
        name = path.relative_to(directory).as_posix()
        try:
            found = load_yaml_documents(path.read_text(encoding="utf-8"))
        except OSError as exc:
            problems.append(f"{name}: cannot read file: {exc.strerror or exc}")
            continue
        except UnicodeDecodeError:
            problems.append(f"{name}: not UTF-8 text")
            continue
        except yaml.YAMLError as exc:
            problems.append(f"{name}: {yaml_problem(exc)}")
            continue
        documents += [(f"{name}: documents[{i}]", d) for i, d in enumerate(found)]
    if problems:
        raise SloFileError(problems, source)
    return parse_openslo(documents, source)
