"""Parse and validate an SLO file once, reporting every problem with its path in the file."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from streams.domain.capacity.loader import parse_capacity
from streams.domain.durations import format_duration
from streams.domain.engine.counters import PlanError, PlanTooLarge, plan_for
from streams.domain.incidents.book import EscalationLevel, IncidentPolicy, Priority
from streams.domain.notify.receivers import PAGERDUTY_URL, NotifyConfig, Receiver, Route
from streams.domain.slo.calendar import Calendar, CalendarError
from streams.domain.slo.fields import NAME as _NAME
from streams.domain.slo.fields import UNSET as _UNSET
from streams.domain.slo.fields import Problems as _Problems
from streams.domain.slo.fields import count as _count
from streams.domain.slo.fields import duration as _duration
from streams.domain.slo.fields import kind as _kind
from streams.domain.slo.fields import labels as _labels
from streams.domain.slo.fields import missing as _missing
from streams.domain.slo.fields import named as _named
from streams.domain.slo.fields import number as _number
from streams.domain.slo.fields import scalars as _scalars
from streams.domain.slo.fields import show as _show
from streams.domain.slo.fields import string as _string
from streams.domain.slo.fields import to_float as _float
from streams.domain.slo.fields import unique_names as _unique_names
from streams.domain.slo.fields import unknown_keys as _unknown_keys
from streams.domain.slo.model import (
    BUILTIN_POLICIES,
    AlertPolicy,
    AlertRule,
    AvailabilitySli,
    BudgetPolicy,
    LatencySli,
    Severity,
    Sli,
    Slo,
    SloFile,
)
from streams.domain.slo.yaml_reader import load_yaml_documents
from streams.domain.toil.config import parse_toil

API_VERSION = "sre-streams/v1"
DEFAULT_EVAL_INTERVAL = 10.0  # seconds, the engine's default (contracts §4)
_STATUS_CLASS = re.compile(r"^([1-5])xx$")
_TOP_KEYS = {"apiVersion", "defaults", "slos", "alerting", "incidents", "notify", "toil", "capacity"}
_INCIDENT_KEYS = {"severity", "reopen_within", "escalation", "inhibit", "retention"}
_ESCALATION_KEYS = {"levels", "repeat"}
_DEFAULT_KEYS = {"window", "alerting", "min_events", "policy"}
_POLICY_KEYS = {"warn_below", "freeze_below", "exceptions"}
_SLO_KEYS = _DEFAULT_KEYS | {
    "name", "service", "objective", "sli", "match", "group_by", "max_series", "labels",
    "runbook_url", "description",
}
_RULE_KEYS = {"name", "severity", "long", "short", "budget_percent", "resolve_below",
              "keep_firing_for", "alert_after"}


class SloFileError(ValueError):
    """An SLO file with problems; `problems` holds one `path: message` line each."""

    def __init__(self, problems: list[str], source: str = "") -> None:
        self.problems = problems
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{len(problems)} problem(s): " + "; ".join(problems))


def load_slo_file(path: str | Path) -> SloFile:
    """Read, parse and validate an SLO file; raises SloFileError listing every problem."""
    source = str(path)
    if Path(path).is_dir():  # a directory of OpenSLO files
        from streams.domain.slo.openslo import load_openslo_directory
        return load_openslo_directory(Path(path))
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SloFileError([f"cannot read file: {exc.strerror or exc}"], source) from None
    except UnicodeDecodeError:
        raise SloFileError(["not UTF-8 text"], source) from None
    return parse_slo_text(text, source)


def parse_slo_text(text: str, source: str = "") -> SloFile:
    """Parse SLO file YAML text: the native format, or OpenSLO v1 documents (by apiVersion)."""
    try:
        documents = load_yaml_documents(text)
    except yaml.YAMLError as exc:
        raise SloFileError([yaml_problem(exc)], source) from None
    from streams.domain.slo.openslo import is_openslo, parse_openslo
    if any(is_openslo(document) for document in documents):
        return parse_openslo([(f"documents[{i}]", d) for i, d in enumerate(documents)], source)
    if len(documents) > 1:
        raise SloFileError([f"{len(documents)} YAML documents: only an OpenSLO set "
                            "(apiVersion: openslo/v1) holds more than one"], source)
    return parse_slo_document(documents[0] if documents else None, source)


def yaml_problem(exc: yaml.YAMLError) -> str:
    """A YAML error as one problem line, with its place in the text."""
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    problem = getattr(exc, "problem", None) or str(exc)
    return f"{where}invalid YAML: {problem}"


def parse_slo_document(document: object, source: str = "") -> SloFile:
    """Validate an already-decoded SLO document."""
    problems = _Problems()
    result = _parse(document, problems)
    if problems.lines or result is None:
        raise SloFileError(problems.lines or ["empty SLO file"], source)
    return result


def _parse(document: object, problems: _Problems) -> SloFile | None:
    if document is None:
        problems.add("", "empty SLO file: expected apiVersion and slos")
        return None
    if not isinstance(document, Mapping):
        problems.add("", f"the file must be a mapping with apiVersion and slos, got {_kind(document)}")
        return None
    _unknown_keys(document, _TOP_KEYS, "", problems)
    if document.get("apiVersion") != API_VERSION:
        problems.add("apiVersion", f"must be {_show(API_VERSION)}, got {_show(document.get('apiVersion'))}")

    policies = dict(BUILTIN_POLICIES)
    alerting = document.get("alerting", {})
    if not isinstance(alerting, Mapping):
        problems.add("alerting", f"must be a mapping of policy name to rules, got {_kind(alerting)}")
    else:
        for name, rules in alerting.items():
            policy = _policy(str(name), rules, f"alerting.{name}", problems)
            if policy is not None:
                policies[str(name)] = policy

    defaults = document.get("defaults", {})
    if defaults is None:
        defaults = {}
    if not isinstance(defaults, Mapping):
        problems.add("defaults", f"must be a mapping, got {_kind(defaults)}")
        defaults = {}
    _unknown_keys(defaults, _DEFAULT_KEYS, "defaults", problems)
    default_window = _window(defaults.get("window", "30d"), "defaults.window", problems)
    default_policy = _policy_ref(defaults.get("alerting", "multiwindow"), policies,
                                 "defaults.alerting", problems)
    default_min = _count(defaults.get("min_events", 0), "defaults.min_events", problems, minimum=0)
    default_budget = _budget_policy(defaults.get("policy", {}), BudgetPolicy(), "defaults.policy",
                                    problems)

    raw_slos = document.get("slos")
    if not isinstance(raw_slos, list) or not raw_slos:
        problems.add("slos", f"must be a non-empty list of SLOs, got {_kind(raw_slos)}")
        return None
    def parse_slo(raw: Mapping[Any, Any], path: str) -> Slo | None:
        slo = _slo(raw, path, policies, default_window, default_policy, default_min,
                   default_budget, problems)
        if slo is not None:
            _check_plan(slo, path, problems)
        return slo

    slos = _unique_names(raw_slos, "slos", problems, duplicate="duplicate name {name} (also {first})",
                         parse=parse_slo)
    incidents = _incidents(document.get("incidents", {}), "incidents", problems)
    notify = _notify(document.get("notify", {}), "notify", problems)
    for index, level in enumerate(incidents.escalation):
        for name in level.notify:
            if name not in notify.receivers:
                problems.add(f"incidents.escalation.levels[{index}].notify",
                             f"unknown receiver {_show(name)} (define it under notify.receivers)")
    toil = parse_toil(document.get("toil"), "toil", problems)
    for index, runbook in enumerate(toil.runbooks):
        if runbook.match.slo is not None and runbook.match.slo not in slos:
            problems.add(f"toil.runbooks[{index}].match.slo", f"unknown SLO {_show(runbook.match.slo)}")
    capacity = parse_capacity(document.get("capacity"), "capacity", problems)
    return SloFile(tuple(slos.values()), policies, incidents, notify, toil=toil, capacity=capacity)


def _notify(value: object, path: str, problems: _Problems) -> NotifyConfig:
    """The `notify` section: receivers (PagerDuty or webhooks) and routes on labels."""
    if value is None:
        return NotifyConfig()
    if not isinstance(value, Mapping):
        problems.add(path, f"must be a mapping with receivers and routes, got {_kind(value)}")
        return NotifyConfig()
    _unknown_keys(value, {"receivers", "routes"}, path, problems)
    raw_receivers = value.get("receivers", [])
    if not isinstance(raw_receivers, list):
        problems.add(f"{path}.receivers", f"must be a list, got {_kind(raw_receivers)}")
        raw_receivers = []
    receivers = _unique_names(raw_receivers, f"{path}.receivers", problems,
                              shape=" with name and pagerduty or webhook",
                              duplicate="duplicate receiver {name}",
                              parse=lambda raw, where: _receiver(raw, where, problems))
    routes: list[Route] = []
    raw_routes = value.get("routes", [])
    if not isinstance(raw_routes, list):
        problems.add(f"{path}.routes", f"must be a list, got {_kind(raw_routes)}")
        raw_routes = []
    for index, raw in enumerate(raw_routes):
        where = f"{path}.routes[{index}]"
        if not isinstance(raw, Mapping):
            problems.add(where, f"must be a mapping with receiver and match, got {_kind(raw)}")
            continue
        _unknown_keys(raw, {"receiver", "match"}, where, problems)
        name = _string(raw.get("receiver", _UNSET), f"{where}.receiver", problems)
        if name is not None and name not in receivers:
            problems.add(f"{where}.receiver", f"unknown receiver {_show(name)}")
            continue
        match = _labels(raw.get("match", {}), f"{where}.match", problems)
        if name is not None:
            routes.append(Route(name, match))
    return NotifyConfig(receivers, tuple(routes))


def _receiver(raw: Mapping[Any, Any], path: str, problems: _Problems) -> Receiver | None:
    _unknown_keys(raw, {"name", "pagerduty", "webhook", "alertmanager_api"}, path, problems)
    name = _string(raw.get("name", _UNSET), f"{path}.name", problems)
    kinds = [k for k in ("pagerduty", "webhook", "alertmanager_api") if k in raw]
    if len(kinds) != 1:
        problems.add(path, "needs exactly one of pagerduty, webhook or alertmanager_api")
        return None
    where = f"{path}.{kinds[0]}"
    spec = raw[kinds[0]]
    if not isinstance(spec, Mapping):
        problems.add(where, f"must be a mapping, got {_kind(spec)}")
        return None
    if kinds[0] == "pagerduty":
        _unknown_keys(spec, {"routing_key", "routing_key_env", "url", "rate_per_minute"}, where,
                      problems)
        key, env = spec.get("routing_key"), spec.get("routing_key_env")
        if (key is None) == (env is None):
            problems.add(where, "needs exactly one of routing_key or routing_key_env")
            return None
        if key is not None and (not isinstance(key, str) or len(key) != 32):
            problems.add(f"{where}.routing_key", "must be the 32-character integration key")
            return None
        if env is not None and _string(env, f"{where}.routing_key_env", problems) is None:
            return None
        url = _string(spec.get("url", PAGERDUTY_URL), f"{where}.url", problems)
        rate = _count(spec.get("rate_per_minute", 120), f"{where}.rate_per_minute", problems,
                      minimum=1)
        if name is None or url is None or rate is None:
            return None
        return Receiver(name, "pagerduty", url, key, env, rate)
    if kinds[0] == "alertmanager_api":
        return _alertmanager_api(name, spec, where, problems)
    _unknown_keys(spec, {"url", "format", "rate_per_minute"}, where, problems)
    url = _string(spec.get("url", _UNSET), f"{where}.url", problems)
    fmt = spec.get("format", "raw")
    if fmt not in ("alertmanager", "slack", "raw"):
        problems.add(f"{where}.format", f"must be alertmanager, slack or raw, got {_show(fmt)}")
        return None
    rate = _count(spec.get("rate_per_minute", 600), f"{where}.rate_per_minute", problems, minimum=1)
    if name is None or url is None or rate is None:
        return None
    if not url.startswith(("http://", "https://")):
        problems.add(f"{where}.url", f"must be an http(s) URL, got {_show(url)}")
        return None
    return Receiver(name, fmt, url, rate_per_minute=rate)


def _incidents(value: object, path: str, problems: _Problems) -> IncidentPolicy:
    """The `incidents` section: severity map, reopen window, escalation levels."""
    default = IncidentPolicy()
    if value is None:
        return default
    if not isinstance(value, Mapping):
        problems.add(path, f"must be a mapping, got {_kind(value)}")
        return default
    _unknown_keys(value, _INCIDENT_KEYS, path, problems)
    severity = default.severity
    raw_map = value.get("severity")
    if raw_map is not None:
        if not isinstance(raw_map, Mapping) or not raw_map:
            problems.add(f"{path}.severity", f"must be a mapping of rule name (or pattern such "
                         f"as ticket-*) to P1, P2 or P3, got {_kind(raw_map)}")
        else:
            pairs = []
            for rule, priority in raw_map.items():
                if priority not in {p.value for p in Priority}:
                    problems.add(f"{path}.severity.{rule}", f"must be P1, P2 or P3, got {_show(priority)}")
                    continue
                pairs.append((str(rule), Priority(priority)))
            severity = tuple(pairs)
    reopen = default.reopen_within
    if "reopen_within" in value:
        reopen = _duration(value["reopen_within"], f"{path}.reopen_within", problems) or reopen
    retention = default.retention
    if "retention" in value:
        retention = (_duration(value["retention"], f"{path}.retention", problems)
                     or retention)
    levels: list[EscalationLevel] = []
    repeat = 0
    escalation = value.get("escalation")
    if escalation is not None:
        where = f"{path}.escalation"
        if not isinstance(escalation, Mapping):
            problems.add(where, f"must be a mapping with levels and repeat, got {_kind(escalation)}")
        else:
            _unknown_keys(escalation, _ESCALATION_KEYS, where, problems)
            repeat = _count(escalation.get("repeat", 0), f"{where}.repeat", problems,
                            minimum=0) or 0
            raw_levels = escalation.get("levels")
            if not isinstance(raw_levels, list) or not raw_levels:
                problems.add(f"{where}.levels", f"must be a non-empty list of {{after, notify}}, "
                             f"got {_kind(raw_levels)}")
            else:
                for index, raw in enumerate(raw_levels):
                    level = _escalation_level(raw, f"{where}.levels[{index}]", problems)
                    if level is not None:
                        levels.append(level)
    inhibit = value.get("inhibit", default.inhibit)
    if not isinstance(inhibit, bool):
        problems.add(f"{path}.inhibit", f"must be true or false, got {_show(inhibit)}")
        inhibit = default.inhibit
    return IncidentPolicy(severity=severity, escalation=tuple(levels), repeat=repeat,
                          reopen_within=reopen, inhibit=inhibit, retention=retention)


def _alertmanager_api(name: str | None, spec: Mapping[Any, Any], where: str,
                      problems: _Problems) -> Receiver | None:
    """`alertmanager_api: {url, resend, rate_per_minute}`: alerts posted to an Alertmanager's
    `/api/v2/alerts` (`url` is the Alertmanager's base URL), re-sent every `resend`."""
    _unknown_keys(spec, {"url", "resend", "rate_per_minute"}, where, problems)
    url = _string(spec.get("url", _UNSET), f"{where}.url", problems)
    resend = _duration(spec.get("resend", "1m"), f"{where}.resend", problems)
    rate = _count(spec.get("rate_per_minute", 600), f"{where}.rate_per_minute", problems, minimum=1)
    if name is None or url is None or resend is None or rate is None:
        return None
    if not url.startswith(("http://", "https://")):
        problems.add(f"{where}.url", f"must be an http(s) URL, got {_show(url)}")
        return None
    base = url.rstrip("/").removesuffix("/api/v2/alerts")
    return Receiver(name, "alertmanager_api", f"{base}/api/v2/alerts", rate_per_minute=rate,
                    resend=resend)


def _escalation_level(raw: object, path: str, problems: _Problems) -> EscalationLevel | None:
    if not isinstance(raw, Mapping):
        problems.add(path, f"must be a mapping with after and notify, got {_kind(raw)}")
        return None
    _unknown_keys(raw, {"after", "notify"}, path, problems)
    after = _duration(raw.get("after", _UNSET), f"{path}.after", problems)
    notify = raw.get("notify", _UNSET)
    names: list[str] = []
    if not isinstance(notify, list) or not notify:
        problems.add(f"{path}.notify", f"must be a non-empty list of receiver names, got "
                     f"{_kind(notify)}")
    else:
        for index, name in enumerate(notify):
            if (text := _string(name, f"{path}.notify[{index}]", problems)) is not None:
                names.append(text)
    if after is None or not names:
        return None
    return EscalationLevel(after, tuple(names))


def _slo(
    raw: Mapping[Any, Any],
    path: str,
    policies: Mapping[str, AlertPolicy],
    default_window: tuple[float, Calendar | None] | None,
    default_policy: AlertPolicy | None,
    default_min: int | None,
    default_budget: BudgetPolicy,
    problems: _Problems,
) -> Slo | None:
    before = len(problems.lines)
    name = _named(raw, _SLO_KEYS, path, problems)
    service = _string(raw.get("service", _UNSET), f"{path}.service", problems)
    objective = _objective(raw.get("objective", _UNSET), f"{path}.objective", problems)
    sli = _sli(raw.get("sli", _UNSET), f"{path}.sli", problems)
    period = (_window(raw["window"], f"{path}.window", problems)
              if "window" in raw else default_window)
    window, calendar = period if period is not None else (None, None)
    policy = (_policy_ref(raw["alerting"], policies, f"{path}.alerting", problems)
              if "alerting" in raw else default_policy)
    min_events = (_count(raw["min_events"], f"{path}.min_events", problems, minimum=0)
                  if "min_events" in raw else default_min)
    match = _match(raw.get("match", {}), f"{path}.match", problems)
    budget_policy = _budget_policy(raw.get("policy", {}), default_budget, f"{path}.policy", problems)
    group_by = _group_by(raw.get("group_by", []), f"{path}.group_by", problems)
    max_series = _count(raw.get("max_series", 1000), f"{path}.max_series", problems, minimum=1)
    labels = _labels(raw.get("labels", {}), f"{path}.labels", problems)
    runbook = raw.get("runbook_url")
    if runbook is not None and not isinstance(runbook, str):
        problems.add(f"{path}.runbook_url", f"must be a string, got {_kind(runbook)}")
        runbook = None
    if window is not None and policy is not None:
        for rule in policy.rules:
            if rule.long > window:
                problems.add(
                    f"{path}.window",
                    f"{format_duration(window)} is shorter than the long window "
                    f"{rule.long_label} of rule {_show(rule.name)} in policy {_show(policy.name)}",
                )
    if len(problems.lines) > before or window is None or policy is None or min_events is None:
        return None  # (a bad default is reported once, under defaults)
    assert name is not None and service is not None and objective is not None
    assert sli is not None
    assert min_events is not None and max_series is not None
    return Slo(
        name=name, service=service, objective=objective, sli=sli, window=window, policy=policy,
        min_events=min_events, match=match, group_by=group_by, max_series=max_series,
        labels=labels, runbook_url=runbook, budget_policy=budget_policy, calendar=calendar,
    )


def _budget_policy(value: object, base: BudgetPolicy, path: str,
                   problems: _Problems) -> BudgetPolicy:
    """An error-budget policy; keys not given come from `base` (the defaults)."""
    if not isinstance(value, Mapping):
        problems.add(path, f"must be a mapping with warn_below, freeze_below, exceptions, "
                           f"got {_kind(value)}")
        return base
    _unknown_keys(value, _POLICY_KEYS, path, problems)
    bounds = {}
    for key in ("warn_below", "freeze_below"):
        number = _number(value.get(key, getattr(base, key)), f"{path}.{key}", problems)
        bounds[key] = getattr(base, key) if number is None else number
        if number is not None and number > 1:
            problems.add(f"{path}.{key}", f"must be a budget fraction <= 1, got {_show(number)}")
    if bounds["freeze_below"] > bounds["warn_below"]:
        problems.add(f"{path}.freeze_below", f"must not exceed warn_below "
                                             f"({_show(bounds['warn_below'])}), "
                                             f"got {_show(bounds['freeze_below'])}")
    exceptions = value.get("exceptions", list(base.exceptions))
    if not isinstance(exceptions, list) or not all(isinstance(e, str) and e for e in exceptions):
        problems.add(f"{path}.exceptions", f"must be a list of change classes, got {_show(exceptions)}")
        exceptions = list(base.exceptions)
    return BudgetPolicy(bounds["warn_below"], bounds["freeze_below"], tuple(exceptions))


def _policy(name: str, rules: object, path: str, problems: _Problems) -> AlertPolicy | None:
    if not _NAME.match(name):
        problems.add(path, f"policy names must match [a-z0-9-]+, got {_show(name)}")
    if not isinstance(rules, list) or not rules:
        problems.add(path, f"must be a non-empty list of rules, got {_kind(rules)}")
        return None
    before = len(problems.lines)
    parsed = _unique_names(rules, path, problems, duplicate="duplicate rule name {name}",
                           parse=lambda raw, where: _alert_rule(raw, where, problems))
    if len(problems.lines) > before:
        return None
    return AlertPolicy(name, tuple(parsed.values()))


def _alert_rule(raw: Mapping[Any, Any], path: str, problems: _Problems) -> AlertRule | None:
    before = len(problems.lines)
    name = _named(raw, _RULE_KEYS, path, problems)
    severity_text = _string(raw.get("severity", _UNSET), f"{path}.severity", problems)
    severity = None
    if severity_text is not None:
        try:
            severity = Severity(severity_text)
        except ValueError:
            choices = ", ".join(s.value for s in Severity)
            problems.add(f"{path}.severity", f"must be one of {choices}, got {_show(severity_text)}")
    long = _duration(raw.get("long", _UNSET), f"{path}.long", problems)
    short = _duration(raw.get("short", _UNSET), f"{path}.short", problems)
    if long is not None and short is not None and short >= long:
        problems.add(f"{path}.short", f"must be shorter than long ({format_duration(long)}), "
                                      f"got {format_duration(short)}")
    percent = _number(raw.get("budget_percent", _UNSET), f"{path}.budget_percent", problems)
    if percent is not None and not 0 < percent <= 100:
        problems.add(f"{path}.budget_percent", f"must be in (0, 100], got {percent}")
    resolve_below = None
    if "resolve_below" in raw:
        resolve_below = _number(raw["resolve_below"], f"{path}.resolve_below", problems)
        if resolve_below is not None and not 0 < resolve_below <= 1:
            problems.add(f"{path}.resolve_below", f"must be a fraction of the factor in (0, 1], "
                                                  f"got {resolve_below}")
    keep = 0.0
    if "keep_firing_for" in raw:
        keep = _duration(raw["keep_firing_for"], f"{path}.keep_firing_for", problems) or 0.0
    after = 0.0
    if "alert_after" in raw:
        after = _duration(raw["alert_after"], f"{path}.alert_after", problems) or 0.0
    if len(problems.lines) > before:
        return None
    assert name is not None and severity is not None and long is not None
    assert short is not None and percent is not None
    return AlertRule(name, severity, long, short, percent, resolve_below, keep, after)


def _policy_ref(
    value: object, policies: Mapping[str, AlertPolicy], path: str, problems: _Problems
) -> AlertPolicy | None:
    if not isinstance(value, str):
        problems.add(path, f"must name an alert policy, got {_kind(value)}")
        return None
    policy = policies.get(value)
    if policy is None:
        known = ", ".join(sorted(policies))
        problems.add(path, f"unknown alert policy {_show(value)} (known: {known})")
    return policy


def _objective(value: object, path: str, problems: _Problems) -> float | None:
    if _missing(value, path, problems, " (a ratio in (0, 1) such as 0.999, or '99.9%')"):
        return None
    objective: float
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            objective = float(Decimal(value.strip()[:-1]) / 100)
        except InvalidOperation:
            problems.add(path, f"must be a ratio such as 0.999 or '99.9%', got {_show(value)}")
            return None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        objective = _float(value)
    else:
        problems.add(path, f"must be a ratio such as 0.999 or '99.9%', got {_show(value)}")
        return None
    if not math.isfinite(objective):
        problems.add(path, f"must be a ratio such as 0.999 or '99.9%', got {_show(value)}")
        return None
    if not 0 < objective < 1:
        problems.add(path, f"must be {'> 0' if objective <= 0 else '< 1'}, got {objective}")
        return None
    return objective


def _sli(value: object, path: str, problems: _Problems) -> Sli | None:
    if _missing(value, path, problems, ": availability or latency"):
        return None
    if not isinstance(value, Mapping) or len(value) != 1:
        problems.add(path, "must have exactly one of availability, latency")
        return None
    kind, spec = next(iter(value.items()))
    if kind == "availability":
        spec = {} if spec is None else spec
        if not isinstance(spec, Mapping):
            problems.add(f"{path}.availability", f"must be a mapping, got {_kind(spec)}")
            return None
        _unknown_keys(spec, {"bad_status"}, f"{path}.availability", problems)
        return _bad_status(spec.get("bad_status", ["5xx"]), f"{path}.availability.bad_status",
                           problems)
    if kind == "latency":
        if not isinstance(spec, Mapping):
            problems.add(f"{path}.latency", f"must be a mapping with threshold_ms, got {_kind(spec)}")
            return None
        _unknown_keys(spec, {"threshold_ms"}, f"{path}.latency", problems)
        threshold = _number(spec.get("threshold_ms", _UNSET), f"{path}.latency.threshold_ms",
                            problems)
        if threshold is None:
            return None
        if threshold < 0:
            problems.add(f"{path}.latency.threshold_ms", f"must be >= 0, got {threshold}")
            return None
        return LatencySli(threshold)
    problems.add(path, f"unknown SLI kind {_show(kind)}: use availability or latency")
    return None


def _bad_status(value: object, path: str, problems: _Problems) -> AvailabilitySli | None:
    if not isinstance(value, list) or not value:
        problems.add(path, f"must be a non-empty list of classes ('5xx') or codes, got {_kind(value)}")
        return None
    classes: set[int] = set()
    codes: set[int] = set()
    ok = True
    for index, item in enumerate(value):
        if isinstance(item, int) and not isinstance(item, bool) and 100 <= item <= 599:
            codes.add(item)
            continue
        match = _STATUS_CLASS.match(item) if isinstance(item, str) else None
        if match:
            classes.add(int(match.group(1)))
        elif isinstance(item, str) and item.isdigit() and 100 <= int(item) <= 599:
            codes.add(int(item))
        else:
            problems.add(f"{path}[{index}]",
                         f"must be a class like '5xx' or a code 100-599, got {_show(item)}")
            ok = False
    return AvailabilitySli(frozenset(classes), frozenset(codes)) if ok else None


def _match(value: object, path: str, problems: _Problems) -> tuple[tuple[str, object], ...]:
    return tuple(_scalars(value, path, problems, "event field", "a string, number or boolean"))


def _group_by(value: object, path: str, problems: _Problems) -> tuple[str, ...]:
    if not isinstance(value, list):
        problems.add(path, f"must be a list of event field names, got {_kind(value)}")
        return ()
    keys: list[str] = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item:
            problems.add(f"{path}[{index}]", f"must be a field name, got {_show(item)}")
        elif item in keys:
            problems.add(f"{path}[{index}]", f"duplicate key {_show(item)}")
        elif item in {"ts", "status", "ok", "latency_ms"}:
            problems.add(f"{path}[{index}]", f"cannot group by {_show(item)}: it is a measurement")
        else:
            keys.append(item)
    return tuple(keys)


def _window(value: object, path: str,
            problems: _Problems) -> tuple[float, Calendar | None] | None:
    """A budget period: a rolling duration, or `{calendar: month|week|quarter, timezone}`."""
    if not isinstance(value, Mapping):
        seconds = _duration(value, path, problems)
        return None if seconds is None else (seconds, None)
    _unknown_keys(value, {"calendar", "timezone"}, path, problems)
    try:
        calendar = Calendar(str(value.get("calendar")), str(value.get("timezone", "UTC")))
    except CalendarError as exc:
        key = "calendar" if "calendar must" in str(exc) else "timezone"
        problems.add(f"{path}.{key}", str(exc))
        return None
    return calendar.nominal, calendar


def _check_plan(slo: Slo, path: str, problems: _Problems) -> None:
    """Windows the engine could not hold (too many buckets), at the default interval."""
    try:  # a worker checks its own interval at start
        plan_for(slo, DEFAULT_EVAL_INTERVAL)
    except PlanTooLarge as exc:
        problems.add(f"{path}.window", str(exc))
    except PlanError:
        pass  # not a multiple of the default interval: depends on the setting


