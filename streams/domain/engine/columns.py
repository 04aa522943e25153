"""Columnar classification of a batch of request events, for throughput.

The per-event path (`Classifier.classify`) costs a few microseconds of interpreted code per
event and SLO. Here a batch is read a field at a time with list comprehensions and decided
with numpy, so the per-event cost is a handful of dictionary reads. It only takes batches it
can decide exactly like the per-event path: anything unusual (a count event, a value of an
unexpected type, a missing field) returns None and the caller uses the per-event path, which
owns every dead-letter reason.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter
from typing import Any

import numpy as np
import numpy.typing as npt

from streams.domain.engine.classify import MAX_LABEL, SeriesKey, label_value
from streams.domain.slo.model import AvailabilitySli, LatencySli, Slo
from streams.domain.timestamps import EARLIEST, LATEST

_NUMBERS = frozenset({float, int})
_has: Callable[[object, str], bool] = operator.contains  # type: ignore[assignment]


def _field(name: str) -> Callable[[object], object]:
    """`event[name]` as a C callable, for `map` (KeyError when missing, TypeError on a non-object)."""
    return itemgetter(name)  # type: ignore[return-value]


_TS = _field("ts")
_SERVICE = _field("service")
_Rows = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class RouteColumns:
    """The events of a batch that one SLO reads."""

    position: int  # the SLO's position in the file
    rows: _Rows  # positions in the batch, ascending
    series: list[SeriesKey]  # distinct series, in order of first appearance
    codes: _Rows  # per row, the index of its series in `series`
    good: _Rows  # per row, 1 good or 0 bad


@dataclass(frozen=True, slots=True)
class BatchColumns:
    ts: npt.NDArray[np.float64]
    matched: npt.NDArray[np.bool_]  # rows read by at least one SLO
    routes: list[RouteColumns]


class ServiceIndex:
    """The SLOs of a file by service: a code per service, and each code's SLO positions."""

    def __init__(self, slos: Sequence[Slo]) -> None:
        self._slos = list(slos)
        self._service_code: dict[str, int] = {}
        self._by_code: list[list[int]] = []
        for position, slo in enumerate(slos):
            code = self._service_code.setdefault(slo.service, len(self._service_code))
            if code == len(self._by_code):
                self._by_code.append([])
            self._by_code[code].append(position)

    def _routed(self, ts: npt.NDArray[np.float64], services: Sequence[object],
                codes_of: Mapping[Any, int],
                routes_of: Callable[[int, _Rows], list[RouteColumns] | None]
                ) -> BatchColumns | None:
        """The batch's columns: each known service's rows (`codes_of` maps the batch's service
        names to their codes, -1 unknown) through `routes_of(code, rows)`, which gives the
        routes of the service's SLOs or None to decline the batch."""
        service_codes = np.fromiter(map(codes_of.__getitem__, services), dtype=np.int64,
                                    count=len(services))
        return self._routed_codes(ts, service_codes, routes_of)

    def _routed_codes(self, ts: npt.NDArray[np.float64], service_codes: _Rows,
                      routes_of: Callable[[int, _Rows], list[RouteColumns] | None]
                      ) -> BatchColumns | None:
        """`_routed` with each event's service code (-1 unknown) read already."""
        matched = np.zeros(len(service_codes), dtype=np.bool_)
        routes: list[RouteColumns] = []
        for code in np.unique(service_codes[service_codes >= 0]).tolist():
            found = routes_of(code, np.flatnonzero(service_codes == code))
            if found is None:
                return None
            for route in found:
                if len(route.rows):
                    matched[route.rows] = True
                    routes.append(route)
        return BatchColumns(ts, matched, routes)


class ColumnClassifier(ServiceIndex):
    """Classifies whole batches of plain request events, or declines them."""

    def classify(self, events: Sequence[object]) -> BatchColumns | None:
        """Columns of a batch, or None when the per-event path must decide it."""
        # Field reads are `map`s of C callables: no interpreted code per event.
        try:
            stamps = list(map(_TS, events))
            services = list(map(_SERVICE, events))
        except (KeyError, TypeError):
            return None  # not all objects with ts and service
        if not set(map(type, stamps)) <= _NUMBERS:
            return None
        names = set(services)
        if any(type(name) is not str or not name for name in names):
            return None
        if any(map(_has, events, repeat("slo"))):
            return None
        try:
            ts = np.array(stamps, dtype=np.float64)
        except OverflowError:
            return None
        if not ((ts >= EARLIEST) & (ts < LATEST)).all():
            return None  # non-finite or out of range: the per-event path says which
        lookup = self._service_code.get
        codes_of = {name: lookup(str(name), -1) for name in names}

        def routes_of(code: int, rows: _Rows) -> list[RouteColumns] | None:
            picked = list(map(events.__getitem__, rows.tolist()))
            cache: dict[str, list[object]] = {}  # fields read by several SLOs of the service
            found = []
            for position in self._by_code[code]:
                route = self._route(position, rows, picked, cache)
                if route is None:
                    return None
                found.append(route)
            return found

        return self._routed(ts, services, codes_of, routes_of)

    def _route(self, position: int, rows: _Rows, events: list[object],
                cache: dict[str, list[object]]) -> RouteColumns | None:
        slo = self._slos[position]
        if slo.match:
            keep = np.ones(len(rows), dtype=np.bool_)
            for key, value in slo.match:
                keep &= np.array([event.get(key) == value for event in events],  # type: ignore[attr-defined]
                                 dtype=np.bool_)
            if not keep.all():
                rows = rows[keep]
                events = [event for event, kept in zip(events, keep.tolist(), strict=True) if kept]
                cache = {}
        if not len(rows):
            return RouteColumns(position, rows, [], rows, rows)
        good = _good(slo, events, cache)
        if good is None:
            return None
        series, codes = _series(slo.group_by, events, cache)
        if codes is None:
            return None
        return RouteColumns(position, rows, series, codes, good)


def _column(events: list[object], field: str, cache: dict[str, list[object]],
            default: object = None) -> list[object]:
    key = f"{field}\0{default!r}"
    values = cache.get(key)
    if values is None:
        try:
            values = list(map(_field(field), events))
        except KeyError:  # some events lack it
            values = [event.get(field, default) for event in events]  # type: ignore[attr-defined]
        cache[key] = values
    return values


def _good(slo: Slo, events: list[object], cache: dict[str, list[object]]) -> _Rows | None:
    sli = slo.sli
    if isinstance(sli, LatencySli):
        values = _column(events, "latency_ms", cache)
        if not set(map(type, values)) <= _NUMBERS:
            return None
        latency = np.array(values, dtype=np.float64)
        if not (np.isfinite(latency).all() and (latency >= 0).all()):
            return None
        return (latency <= sli.threshold_ms).astype(np.int64)
    assert isinstance(sli, AvailabilitySli)
    if any(map(_has, events, repeat("ok"))):
        return None
    statuses = _column(events, "status", cache)
    if set(map(type, statuses)) != {int}:
        return None
    status = np.array(statuses, dtype=np.int64)
    if not ((status >= 100) & (status <= 599)).all():
        return None
    bad = np.isin(status // 100, list(sli.bad_classes))
    if sli.bad_codes:
        bad |= np.isin(status, list(sli.bad_codes))
    return (~bad).astype(np.int64)


def _series(group_by: tuple[str, ...], events: list[object],
            cache: dict[str, list[object]]) -> tuple[list[SeriesKey], _Rows | None]:
    if not group_by:
        return [()], np.zeros(len(events), dtype=np.int64)
    columns = []
    for key in group_by:
        values = _column(events, key, cache, "")
        try:
            distinct = set(values)
        except TypeError:
            return [], None  # unhashable: an object or array where a label belongs
        if not all(type(value) is str for value in distinct):
            try:
                values = [value if type(value) is str else label_value(value) for value in values]
            except ValueError:
                return [], None
            distinct = set(values)
        if max(map(len, distinct), default=0) > MAX_LABEL:  # type: ignore[arg-type]
            return [], None  # a label too long: the per-event path refuses its event
        columns.append(values)
    keys: list[object] = columns[0] if len(columns) == 1 else list(zip(*columns, strict=True))
    first_seen = {key: code for code, key in enumerate(dict.fromkeys(keys))}
    codes = np.fromiter(map(first_seen.__getitem__, keys), dtype=np.int64, count=len(keys))
    series: list[SeriesKey] = (
        [(key,) for key in first_seen] if len(columns) == 1  # type: ignore[misc]
        else list(first_seen)  # type: ignore[arg-type]
    )
    return series, codes
