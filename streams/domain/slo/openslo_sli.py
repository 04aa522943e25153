"""OpenSLO v1 `SLI` objects whose sources are the request events (`type: sre-streams`).

The keys of a source's `spec` are in docs/contracts.md (section N): `total` (or the
`thresholdMetric`) selects the events, `good` or `bad` classifies them. Any other source
type, a `metricSourceRef` and precomputed ratios are refused with their path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from streams.domain.slo.fields import count as _count
from streams.domain.slo.fields import number as _number
from streams.domain.slo.fields import show as _show
from streams.domain.slo.loader import _bad_status, _group_by, _match
from streams.domain.slo.model import LatencySli, Sli
from streams.domain.slo.openslo_docs import Obj, Report, check_annotations, mapping, unknown

SOURCE_TYPE = "sre-streams"
_SLI_SPEC = {"description", "thresholdMetric", "ratioMetric"}
_RATIO = {"counter", "good", "bad", "total", "raw", "rawType"}
_EVENTS = {"match", "group_by", "max_series", "min_events"}  # spec keys of total/threshold


@dataclass(frozen=True)
class Indicator:
    """What an SLI counts."""

    threshold: str | None  # path of a thresholdMetric (the objective gives op and value)
    sli: Sli | None  # a ratio's classification
    match: tuple[tuple[str, object], ...]
    group_by: tuple[str, ...]
    max_series: int
    min_events: int


def read_sli(sli: Obj, report: Report) -> Indicator | None:
    """What an SLI counts: its event selection and, for a ratio, the classification."""
    unknown(sli.spec, _SLI_SPEC, sli.at("spec"), report)
    check_annotations(sli, set(), report)
    if ("thresholdMetric" in sli.spec) == ("ratioMetric" in sli.spec):
        report.add(sli.at("spec"), "needs exactly one of thresholdMetric or ratioMetric")
        return None
    if "thresholdMetric" in sli.spec:
        where = sli.at("spec.thresholdMetric")
        source = _source(sli.spec["thresholdMetric"], where, _EVENTS | {"field"}, report)
        if source is None:
            return None
        if source.get("field", "latency_ms") != "latency_ms":
            report.add(f"{where}.metricSource.spec.field", f"only latency_ms can be compared "
                       f"with a threshold, got {_show(source.get('field'))}")
            return None
        return _events(source, f"{where}.metricSource.spec", where, None, report)
    where = sli.at("spec.ratioMetric")
    ratio = mapping(sli.spec["ratioMetric"], where, report, "a mapping with good (or bad) "
                    "and total")
    if ratio is None:
        return None
    unknown(ratio, _RATIO, where, report)
    for key in ("raw", "rawType"):
        if key in ratio:
            report.add(f"{where}.{key}", "a precomputed ratio is not an event count: use "
                       "good (or bad) and total")
    if "counter" in ratio:
        report.warn(f"{where}.counter", "ignored: events are counted one by one")
    if ("good" in ratio) == ("bad" in ratio) or "total" not in ratio:
        report.add(where, "needs total and exactly one of good or bad")
        return None
    part = "good" if "good" in ratio else "bad"
    keys = {"bad_status", "latency_ms_lte"} if part == "good" else {"bad_status"}
    numerator = _source(ratio[part], f"{where}.{part}", keys, report)
    total = _source(ratio["total"], f"{where}.total", _EVENTS, report)
    if numerator is None or total is None:
        return None
    classified = _classify(numerator, f"{where}.{part}.metricSource.spec", report)
    if classified is None:
        return None
    return _events(total, f"{where}.total.metricSource.spec", None, classified, report)

def _classify(spec: Mapping[Any, Any], where: str, report: Report) -> Sli | None:
    if len(spec) != 1:
        report.add(where, "needs exactly one of " + " or ".join(sorted(
            {"bad_status", "latency_ms_lte"} if where.endswith("good.metricSource.spec")
            else {"bad_status"})))
        return None
    if "bad_status" in spec:
        return _bad_status(spec["bad_status"], f"{where}.bad_status", report.problems)
    threshold = _number(spec["latency_ms_lte"], f"{where}.latency_ms_lte", report.problems)
    if threshold is None:
        return None
    if threshold < 0:
        report.add(f"{where}.latency_ms_lte", f"must be >= 0, got {threshold}")
        return None
    return LatencySli(threshold)

def _events(spec: Mapping[Any, Any], where: str, threshold: str | None, sli: Sli | None,
            report: Report) -> Indicator | None:
    problems = report.problems
    before = report.count
    match = _match(spec.get("match", {}), f"{where}.match", problems)
    group_by = _group_by(spec.get("group_by", []), f"{where}.group_by", problems)
    max_series = _count(spec.get("max_series", 1000), f"{where}.max_series", problems, minimum=1)
    min_events = _count(spec.get("min_events", 0), f"{where}.min_events", problems, minimum=0)
    if report.count > before or max_series is None or min_events is None:
        return None
    return Indicator(threshold, sli, match, group_by, max_series, min_events)

def _source(raw: object, where: str, keys: set[str], report: Report) -> Mapping[Any, Any] | None:
    """The `spec` of an sre-streams metric source (refusing any other source)."""
    body = mapping(raw, where, report, "a mapping with metricSource")
    if body is None:
        return None
    unknown(body, {"metricSource"}, where, report)
    source = mapping(body.get("metricSource"), f"{where}.metricSource", report,
                     "a mapping with type and spec")
    if source is None:
        return None
    where = f"{where}.metricSource"
    if "metricSourceRef" in source:
        report.add(f"{where}.metricSourceRef", "DataSource references are not read: write "
                   f"type: {SOURCE_TYPE} and its spec here")
        return None
    kind = source.get("type")
    if kind != SOURCE_TYPE:
        report.add(f"{where}.type", f"{_show(kind) if kind is not None else 'nothing'} is "
                   f"not an event source this engine reads: it counts the request events it "
                   f"consumes, described by type: {SOURCE_TYPE} (see docs/contracts.md)")
        return None
    unknown(source, {"type", "spec"}, where, report)
    spec = mapping(source.get("spec", {}), f"{where}.spec", report)
    if spec is None:
        return None
    before = report.count
    unknown(spec, keys, f"{where}.spec", report)
    return None if report.count > before else spec
