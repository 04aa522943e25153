"""The documents of an OpenSLO v1 set: envelopes checked, objects indexed by kind and name.

Shared by the SLO/SLI reader (`openslo`) and the alerting reader (`openslo_alerts`): the
problem and warning lists, the envelope (`apiVersion`, `kind`, `metadata`, `spec`), and the
`sre-streams/` annotations this engine reads.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from streams.domain.slo.fields import Problems as _Problems
from streams.domain.slo.fields import kind as _kind
from streams.domain.slo.fields import show as _show

OPENSLO_VERSION = "openslo/v1"
NATIVE_VERSION = "sre-streams/v1"
ANNOTATION_PREFIX = "sre-streams/"
KINDS = ("SLO", "SLI", "AlertPolicy", "AlertCondition", "Service", "DataSource",
         "AlertNotificationTarget")
_RFC1123 = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_ENVELOPE = {"apiVersion", "kind", "metadata", "spec"}
_METADATA = {"name", "displayName", "labels", "annotations"}


@dataclass
class Report:
    """Problems refuse the set; warnings name what was read but is not honoured."""

    problems: _Problems = field(default_factory=_Problems)
    warnings: list[str] = field(default_factory=list)

    def add(self, path: str, message: str) -> None:
        self.problems.add(path, message)

    def warn(self, path: str, message: str) -> None:
        self.warnings.append(f"{path}: {message}")

    @property
    def count(self) -> int:
        return len(self.problems.lines)


@dataclass(frozen=True)
class Obj:
    """One OpenSLO object: a whole document, or one inlined in another."""

    where: str  # path of the object itself: `documents[2]`, `a.yaml: documents[0].spec.indicator`
    kind: str
    name: str
    spec: Mapping[Any, Any]
    labels: object  # metadata.labels as written (None when absent)
    annotations: Mapping[str, str]  # only the `sre-streams/` ones, prefix removed

    def at(self, suffix: str) -> str:
        return f"{self.where}.{suffix}"


def unknown(mapping: Mapping[Any, Any], allowed: set[str], path: str, report: Report,
            honoured_elsewhere: str = "") -> None:
    for key in mapping:
        if key not in allowed:
            report.add(f"{path}.{key}", f"unknown key (allowed: {', '.join(sorted(allowed))})"
                       + honoured_elsewhere)


def mapping(value: object, path: str, report: Report, what: str = "a mapping") -> Mapping[Any, Any] | None:
    if not isinstance(value, Mapping):
        report.add(path, f"must be {what}, got {_kind(value)}")
        return None
    return value


def read_object(raw: object, where: str, report: Report, kind: str | None = None,
                inline: bool = False) -> Obj | None:
    """The envelope of one object; `kind` when the place fixes it (inlined objects)."""
    body = mapping(raw, where, report, "an OpenSLO object with apiVersion, kind, metadata, spec")
    if body is None:
        return None
    before = report.count
    unknown(body, _ENVELOPE, where, report)
    if not inline and body.get("apiVersion") != OPENSLO_VERSION:
        report.add(f"{where}.apiVersion",
                   f"must be {_show(OPENSLO_VERSION)}, got {_show(body.get('apiVersion'))}")
    found = body.get("kind", kind)
    if kind is not None and found != kind:
        report.add(f"{where}.kind", f"must be {_show(kind)} here, got {_show(found)}")
    elif found not in KINDS:
        report.add(f"{where}.kind", f"must be one of {', '.join(KINDS)}, got {_show(found)}")
    metadata = mapping(body.get("metadata"), f"{where}.metadata", report,
                       "a mapping with name")
    name = None
    labels: object = None
    annotations: dict[str, str] = {}
    if metadata is not None:
        unknown(metadata, _METADATA, f"{where}.metadata", report)
        name = metadata.get("name")
        if not isinstance(name, str) or not _RFC1123.match(name):
            report.add(f"{where}.metadata.name", "must be a name of at most 63 characters: "
                       f"lowercase letters, digits and '-' (RFC 1123), got {_show(name)}")
            name = None
        labels = metadata.get("labels")
        annotations = _annotations(metadata.get("annotations", {}),
                                   f"{where}.metadata.annotations", report)
    spec = body.get("spec", {} if found == "Service" else None)  # a Service may say nothing
    spec = mapping(spec, f"{where}.spec", report)
    if report.count > before or name is None or spec is None:
        return None
    return Obj(where, str(found), name, spec, labels, annotations)


def _annotations(value: object, path: str, report: Report) -> dict[str, str]:
    found = mapping(value, path, report, "a mapping of strings")
    ours: dict[str, str] = {}
    for key, item in (found or {}).items():
        if not isinstance(item, str):
            report.add(f"{path}.{key}", f"must be a string, got {_kind(item)}")
        elif isinstance(key, str) and key.startswith(ANNOTATION_PREFIX):
            ours[key[len(ANNOTATION_PREFIX):]] = item
    return ours


def check_annotations(obj: Obj, allowed: set[str], report: Report) -> None:
    for key in obj.annotations:
        if key not in allowed:
            names = ", ".join(ANNOTATION_PREFIX + a for a in sorted(allowed)) or "none"
            report.add(obj.at(f"metadata.annotations.{ANNOTATION_PREFIX}{key}"),
                       f"unknown sre-streams annotation (known on a {obj.kind}: {names})")


def valid_name(name: str) -> bool:
    """Whether `name` can name an OpenSLO object (RFC 1123 label)."""
    return bool(_RFC1123.match(name))


def slug(text: str) -> str:
    """A display name as part of an SLO name: lowercase letters, digits and '-'."""
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9]+", "-", text.lower())).strip("-")
