"""An SLO set written out again: as OpenSLO v1 documents or as a native SLO file.

Both writers take a validated `SloFile` and the `incidents`/`notify` sections as written in
the source (they have no OpenSLO kind: an OpenSLO set carries them in one
`apiVersion: sre-streams/v1` document). Reading the output gives the same SLOs: every
number is written exactly (floats by their shortest repr, windows in whole units).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TypeAlias, cast

import yaml

from streams.domain.durations import format_duration
from streams.domain.slo.model import (
    BUILTIN_POLICIES,
    AlertPolicy,
    AlertRule,
    AvailabilitySli,
    BudgetPolicy,
    LatencySli,
    Slo,
    SloFile,
)
from streams.domain.slo.openslo import is_openslo
from streams.domain.slo.openslo_alerts import condition_doc
from streams.domain.slo.openslo_docs import NATIVE_VERSION, OPENSLO_VERSION, valid_name
from streams.domain.slo.openslo_sli import SOURCE_TYPE
from streams.domain.slo.yaml_reader import load_yaml_documents

SECTIONS = ("incidents", "notify", "toil", "capacity")  # file-level, without an OpenSLO kind

# What the writers build and `yaml.safe_dump` writes: YAML's plain values, lists and mappings.
Yaml: TypeAlias = "str | int | float | bool | list[Yaml] | dict[str, Yaml] | None"
Document: TypeAlias = dict[str, Yaml]


def raw_sections(path: str | Path) -> Document:
    """The file-level sections (incidents, notify, toil, capacity) as written in an SLO file or
    directory."""
    source = Path(path)
    files = sorted(p for p in source.rglob("*") if p.suffix in (".yaml", ".yml")) \
        if source.is_dir() else [source]
    sections: Document = {}
    for file in files:
        for document in load_yaml_documents(file.read_text(encoding="utf-8")):
            if isinstance(document, Mapping) and not is_openslo(document):
                sections.update({k: document[k] for k in SECTIONS if k in document})
    return sections


def _dump(documents: list[Document]) -> str:
    return yaml.safe_dump_all(documents, sort_keys=False, allow_unicode=True,
                              default_flow_style=False, width=100)


def _bad_status(sli: AvailabilitySli) -> list[Yaml]:
    return [*(f"{c}xx" for c in sorted(sli.bad_classes)), *sorted(sli.bad_codes)]


def _match(slo: Slo) -> Document:
    """The SLO's `match` as read from its file (its values are YAML's own)."""
    return {key: cast(Yaml, value) for key, value in slo.match}


def _budget(policy: BudgetPolicy) -> Document:
    default = BudgetPolicy()
    return {key: (list(value) if isinstance(value, tuple) else value)
            for key in ("warn_below", "freeze_below", "exceptions")
            if (value := getattr(policy, key)) != getattr(default, key)}


def to_native(slo_file: SloFile, sections: Mapping[str, Yaml]) -> str:
    """A native (`sre-streams/v1`) SLO file for the set."""
    names: dict[AlertPolicy, str] = {}
    taken: dict[str, AlertPolicy] = {}
    for slo in slo_file.slos:
        policy = slo.policy
        if policy in names:
            continue
        name, n = policy.name, 1
        while name in taken:  # one name, several rule sets (OpenSLO policies of SLOs)
            n += 1
            name = f"{policy.name}-{n}"
        names[policy] = name
        taken[name] = policy
    slos: list[Yaml] = []
    for slo in slo_file.slos:
        entry: Document = {"name": slo.name, "service": slo.service, "objective": slo.objective}
        if isinstance(slo.sli, LatencySli):
            entry["sli"] = {"latency": {"threshold_ms": slo.sli.threshold_ms}}
        else:
            entry["sli"] = {"availability": {"bad_status": _bad_status(slo.sli)}}
        entry["window"] = format_duration(slo.window) if slo.calendar is None else {
            "calendar": slo.calendar.unit, "timezone": slo.calendar.timezone}
        entry["alerting"] = names[slo.policy]
        if slo.min_events:
            entry["min_events"] = slo.min_events
        if slo.match:
            entry["match"] = _match(slo)
        if slo.group_by:
            entry["group_by"] = list(slo.group_by)
        if slo.max_series != 1000:
            entry["max_series"] = slo.max_series
        if slo.labels:
            entry["labels"] = dict(slo.labels)
        if slo.runbook_url is not None:
            entry["runbook_url"] = slo.runbook_url
        if budget := _budget(slo.budget_policy):
            entry["policy"] = budget
        slos.append(entry)
    document: Document = {"apiVersion": NATIVE_VERSION, "slos": slos}
    alerting: Document = {name: [_native_rule(rule) for rule in policy.rules]
                          for name, policy in taken.items() if BUILTIN_POLICIES.get(name) != policy}
    if alerting:
        document["alerting"] = alerting
    document.update({k: sections[k] for k in SECTIONS if k in sections})
    return _dump([document])


def _native_rule(rule: AlertRule) -> Document:
    entry: Document = {"name": rule.name, "severity": rule.severity.value,
                       "long": format_duration(rule.long),
                       "short": format_duration(rule.short),
                       "budget_percent": rule.budget_percent}
    if rule.resolve_below is not None:
        entry["resolve_below"] = rule.resolve_below
    if rule.keep_firing_for:
        entry["keep_firing_for"] = format_duration(rule.keep_firing_for)
    if rule.alert_after:
        entry["alert_after"] = format_duration(rule.alert_after)
    return entry


def to_openslo(slo_file: SloFile, sections: Mapping[str, Yaml]) -> str:
    """OpenSLO v1 documents for the set (see docs/contracts.md, section N)."""
    services = sorted({slo.service for slo in slo_file.slos})
    documents: list[Document] = [
        {"apiVersion": OPENSLO_VERSION, "kind": "Service", "metadata": {"name": service},
         "spec": {}}
        for service in services if valid_name(service)]
    # A burn factor depends on the period: one condition per rule, policy and window.
    keys: list[tuple[AlertPolicy, float]] = []
    for slo in slo_file.slos:
        if (slo.policy, slo.window) not in keys:
            keys.append((slo.policy, slo.window))
    refs: dict[tuple[AlertPolicy, float], list[str]] = {}
    for key in keys:
        policy, window = key
        same_name = [k for k in keys if k[0].name == policy.name]
        prefix = policy.name if len(same_name) == 1 else f"{policy.name}-{same_name.index(key) + 1}"
        refs[key] = []
        for index, rule in enumerate(policy.rules):
            name = f"{prefix}-{rule.name}"
            if not valid_name(name):
                name = f"policy{keys.index(key) + 1}-rule{index + 1}"
            condition = condition_doc(name, rule, window, rule.name)
            documents.append(condition)
            documents.append({
                "apiVersion": OPENSLO_VERSION, "kind": "AlertPolicy",
                "metadata": {"name": name, "annotations": {"sre-streams/policy": policy.name}},
                "spec": {"conditions": [{"conditionRef": name}]}})
            refs[key].append(name)
    for slo in slo_file.slos:
        documents.append(_sli_doc(slo))
        documents.append(_slo_doc(slo, refs[(slo.policy, slo.window)]))
    extra = {k: sections[k] for k in SECTIONS if k in sections}
    if extra:
        documents.append({"apiVersion": NATIVE_VERSION, **extra})
    return _dump(documents)


def _sli_doc(slo: Slo) -> Document:
    good: Document
    if isinstance(slo.sli, LatencySli):
        good = {"latency_ms_lte": slo.sli.threshold_ms}
    else:
        good = {"bad_status": _bad_status(slo.sli)}
    total: Document = {}
    if slo.match:
        total["match"] = _match(slo)
    if slo.group_by:
        total["group_by"] = list(slo.group_by)
    if slo.max_series != 1000:
        total["max_series"] = slo.max_series
    if slo.min_events:
        total["min_events"] = slo.min_events
    return {"apiVersion": OPENSLO_VERSION, "kind": "SLI", "metadata": {"name": slo.name},
            "spec": {"ratioMetric": {
                "good": {"metricSource": {"type": SOURCE_TYPE, "spec": good}},
                "total": {"metricSource": {"type": SOURCE_TYPE, "spec": total}}}}}


def _slo_doc(slo: Slo, policies: list[str]) -> Document:
    metadata: Document = {"name": slo.name}
    if slo.labels:
        metadata["labels"] = dict(slo.labels)
    notes: Document = {}
    if slo.runbook_url is not None:
        notes["sre-streams/runbook-url"] = slo.runbook_url
    budget = _budget(slo.budget_policy)
    for key in ("warn_below", "freeze_below"):
        if key in budget:
            notes[f"sre-streams/{key.replace('_', '-')}"] = repr(budget[key])
    if "exceptions" in budget:  # (as the policy holds them)
        exceptions = slo.budget_policy.exceptions
        if any("," in e for e in exceptions):
            raise ValueError(f"{slo.name}: a change class with a comma cannot be an annotation")
        notes["sre-streams/exceptions"] = ",".join(exceptions)
    if notes:
        metadata["annotations"] = notes
    return {"apiVersion": OPENSLO_VERSION, "kind": "SLO", "metadata": metadata,
            "spec": {"service": slo.service, "indicatorRef": slo.name,
                     "timeWindow": [_time_window(slo)],
                     "budgetingMethod": "Occurrences",
                     "objectives": [{"target": slo.objective}],
                     "alertPolicies": [{"alertPolicyRef": name} for name in policies]}}


def _time_window(slo: Slo) -> Document:
    if slo.calendar is None:
        return {"duration": format_duration(slo.window), "isRolling": True}
    # 1 January 2024 was a Monday: a start of every kind of period.
    return {"duration": {"month": "1M", "quarter": "1Q", "week": "1w"}[slo.calendar.unit],
            "isRolling": False,
            "calendar": {"startTime": "2024-01-01 00:00:00", "timeZone": slo.calendar.timezone}}
