"""Labelled incidents: the significant events a policy should alert on, one JSON object a line.

`{"slo": "checkout-availability", "series": {"region": "eu"}, "start": ..., "end": ...}`;
`series` is optional (without it the incident covers every series of the SLO, with some keys
it covers the series that have those values), `title` is an optional note for the report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import orjson

from streams.domain.slo.model import SloFile
from streams.domain.timestamps import TimestampError, format_ts, parse_ts

# A JSON document of a labelled-incidents file or of a report: read or written as a file, never
# a topic message.
JsonObject = dict[str, object]

SeriesLabels = tuple[tuple[str, str], ...]  # a series' (key, value) pairs, sorted
_KEYS = ("slo", "series", "start", "end", "title")


def series_labels(series: Mapping[str, str]) -> SeriesLabels:
    """A series as a hashable, order-independent key."""
    return tuple(sorted(series.items()))


@dataclass(frozen=True, slots=True)
class LabelledIncident:
    slo: str
    start: float
    end: float
    series: SeriesLabels | None = None  # None: every series of the SLO
    title: str | None = None
    line: int = 0

    def covers(self, slo: str, series: SeriesLabels) -> bool:
        """Whether an alert on this SLO series is about the part of the service this incident hit."""
        return slo == self.slo and (self.series is None or set(self.series) <= set(series))

    def to_json(self) -> JsonObject:
        document: JsonObject = {"slo": self.slo}
        if self.series is not None:
            document["series"] = dict(self.series)
        document["start"] = format_ts(self.start)
        document["end"] = format_ts(self.end)
        if self.title is not None:
            document["title"] = self.title
        return document


class IncidentFileError(ValueError):
    """A bad incidents file; the message names the file and line."""


def load_incidents(path: str | Path, slo_file: SloFile) -> list[LabelledIncident]:
    """Read and check every line; raises IncidentFileError at the first problem."""
    try:
        text = Path(path).read_bytes()
    except OSError as exc:
        raise IncidentFileError(f"{path}: cannot read file: {exc.strerror or exc}") from None
    incidents = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            incidents.append(_incident(line, number, slo_file))
        except ValueError as exc:
            raise IncidentFileError(f"{path}:{number}: {exc}") from None
    return incidents


def _incident(line: bytes, number: int, slo_file: SloFile) -> LabelledIncident:
    try:
        document = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise ValueError('expected a JSON object like {"slo": ..., "start": ..., "end": ...}')
    unknown = [key for key in document if key not in _KEYS]
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} (allowed: {', '.join(_KEYS)})")
    slos = {slo.name: slo for slo in slo_file.slos}
    name = document.get("slo")
    if name not in slos:
        raise ValueError(f"unknown SLO {name!r} (the SLO file has: {', '.join(slos)})"
                         if isinstance(name, str) else "slo must name an SLO of the SLO file")
    slo = slos[name]
    series = document.get("series")
    if series is not None:
        if not isinstance(series, dict) or not all(isinstance(v, str) for v in series.values()):
            raise ValueError("series must be an object of string values")
        stray = [key for key in series if key not in slo.group_by]
        if stray:
            raise ValueError(f"series key {stray[0]!r} is not in the group_by of SLO {name} "
                             f"({', '.join(slo.group_by) or 'none'})")
    start, end = _time(document, "start"), _time(document, "end")
    if end <= start:
        raise ValueError(f"end {format_ts(end)} must be after start {format_ts(start)}")
    title = document.get("title")
    if title is not None and not isinstance(title, str):
        raise ValueError("title must be a string")
    return LabelledIncident(name, start, end, None if series is None else series_labels(series),
                            title, number)


def _time(document: JsonObject, key: str) -> float:
    if key not in document:
        raise ValueError(f"missing {key} (epoch seconds or RFC 3339)")
    try:
        return parse_ts(document[key])
    except TimestampError as exc:
        raise ValueError(f"{key} {str(exc).removeprefix('ts ')}") from None
