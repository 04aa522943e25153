"""Column-wise classification of events decoded a field at a time (see
`streams.offline.columnar`): the same columns `ColumnClassifier` makes from dicts, read from
whole-batch arrays instead of per-service lists of dicts.

It declines (returns None) whatever `ColumnClassifier` might decide differently from the
typed columns: a `slo` or `ok` field anywhere, a value out of range. The caller then takes
the dict path, which is exact.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from streams.domain.engine.classify import MAX_LABEL, SeriesKey
from streams.domain.engine.columns import BatchColumns, RouteColumns, ServiceIndex
from streams.domain.slo.model import AvailabilitySli, LatencySli, Slo
from streams.domain.timestamps import EARLIEST, LATEST

_Rows = npt.NDArray[np.int64]


class FieldColumns(Protocol):
    """A batch of events read a field at a time."""

    def __len__(self) -> int: ...

    def values(self, key: str) -> list[Any]: ...

    def present(self, key: str) -> bool: ...

    def floats(self, key: str) -> npt.NDArray[np.float64]: ...

    def ints(self, key: str) -> npt.NDArray[np.int64] | None: ...

    def factors(self, key: str) -> tuple[list[Any], npt.NDArray[np.int64]]: ...


class TypedClassifier(ServiceIndex):
    """Classifies batches of typed columns for a file's SLOs, or declines them."""

    def classify(self, batch: FieldColumns) -> BatchColumns | None:
        ts = batch.floats("ts")
        if not ((ts >= EARLIEST) & (ts < LATEST)).all() or batch.present("slo"):
            return None
        names, services = batch.factors("service")
        lookup = self._service_code.get
        codes_of = {name: lookup(name, -1) for name in names}
        if "" in codes_of:
            return None
        service_codes = np.array([codes_of[name] for name in names], dtype=np.int64)[services]
        reads = _Reads(batch, service_codes, len(self._by_code))

        def routes_of(code: int, rows: _Rows) -> list[RouteColumns] | None:
            found = []
            for position in self._by_code[code]:
                route = self._route(position, code, rows, reads)
                if route is None:
                    return None
                found.append(route)
            return found

        return self._routed_codes(ts, service_codes, routes_of)

    def _route(self, position: int, service: int, rows: _Rows,
               reads: _Reads) -> RouteColumns | None:
        slo = self._slos[position]
        for key, value in slo.match:
            distinct, codes = reads.batch.factors(key)
            rows = rows[codes[rows] == distinct.index(value)] if value in distinct else rows[:0]
        if not len(rows):
            return RouteColumns(position, rows, [], rows, rows)
        good = reads.good(slo, rows)
        if good is None:
            return None
        # All of the service's rows: their series read off the whole batch at once.
        found = (reads.series(slo.group_by, rows) if slo.match else
                 reads.service_series(slo.group_by, service, rows))
        if found is None:
            return None
        series, codes = found
        return RouteColumns(position, rows, series, codes, good)


class _Reads:
    """Whole-batch columns, each made once per batch."""

    def __init__(self, batch: FieldColumns, service_codes: _Rows, services: int) -> None:
        self.batch = batch
        self._service_codes = service_codes  # each event's service code, -1 unknown
        self._services = services  # codes there are
        self._arrays: dict[str, Any] = {}
        self._labels: dict[str, tuple[list[str], _Rows] | None] = {}
        self._by_service: dict[tuple[str, ...], tuple[dict[int, list[SeriesKey]], _Rows] | None] = {}
        self._combos: dict[tuple[str, ...], tuple[list[list[str]], _Rows] | None] = {}

    def _array(self, key: str) -> Any:
        if key not in self._arrays:
            if key == "status":
                self._arrays[key] = None if self.batch.present("ok") else self.batch.ints(key)
            else:
                self._arrays[key] = self.batch.floats(key)
        return self._arrays[key]

    def good(self, slo: Slo, rows: _Rows) -> _Rows | None:
        sli = slo.sli
        if isinstance(sli, LatencySli):
            latency: npt.NDArray[np.float64] = self._array("latency_ms")[rows]
            if not (np.isfinite(latency).all() and (latency >= 0).all()):
                return None  # missing (NaN), or out of range: the per-event path says which
            return (latency <= sli.threshold_ms).astype(np.int64)
        assert isinstance(sli, AvailabilitySli)
        statuses: npt.NDArray[np.int64] | None = self._array("status")
        if statuses is None:
            return None
        status = statuses[rows]
        if not ((status >= 100) & (status <= 599)).all():
            return None
        return _good_statuses(tuple(sorted(sli.bad_classes)), tuple(sorted(sli.bad_codes)))[status]

    def _label(self, key: str) -> tuple[list[str], _Rows] | None:
        """The distinct values of a label and each event's index among them."""
        if key not in self._labels:
            distinct, codes = self.batch.factors(key)
            too_long = max(map(len, distinct), default=0) > MAX_LABEL
            self._labels[key] = None if too_long else (distinct, codes)
        return self._labels[key]

    def service_series(self, group_by: tuple[str, ...], service: int,
                       rows: _Rows) -> tuple[list[SeriesKey], _Rows] | None:
        """`series` for `rows` that are all of a service's events: one pass over the batch for
        every service with this group_by (a series' first appearance among the service's
        events is its first in the batch, so the order is the same)."""
        if group_by not in self._by_service:
            self._by_service[group_by] = self._service_series(group_by)
        found = self._by_service[group_by]
        if found is None:
            return self.series(group_by, rows)
        series, ranks = found
        return series.get(service, []), ranks[rows]

    def _service_series(self, group_by: tuple[str, ...]
                        ) -> tuple[dict[int, list[SeriesKey]], _Rows] | None:
        """Each service's series in order of first appearance, and each event's index among
        its service's series; None where the codes could overflow (`series` decides)."""
        if np.prod([float(len(self.batch))] * len(group_by)) * (self._services + 1) >= 2.0**62:
            return None
        found = self._combined(group_by)
        if found is None:
            return None
        labels, combined = found
        span = int(np.prod([len(distinct) for distinct in labels], dtype=np.int64))
        keys = np.where(self._service_codes >= 0, self._service_codes * span + combined, -1)
        unique, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        rank = np.full(len(unique), -1, dtype=np.int64)
        by_service: dict[int, list[SeriesKey]] = {}
        for index in np.argsort(first, kind="stable").tolist():
            code = int(unique[index])
            if code < 0:
                continue  # events of services without SLOs
            service, combination = divmod(code, span)
            series = by_service.setdefault(service, [])
            rank[index] = len(series)
            series.append(_labels_of(combination, labels))
        return by_service, rank[inverse.reshape(-1)]

    def series(self, group_by: tuple[str, ...], rows: _Rows) -> tuple[list[SeriesKey], _Rows] | None:
        """Series in order of first appearance among `rows`, and each row's index among them."""
        if not group_by:
            return [()], np.zeros(len(rows), dtype=np.int64)
        if np.prod([float(len(self.batch))] * len(group_by)) >= 2.0**62:
            return None  # label combinations could overflow their codes
        found = self._combined(group_by)
        if found is None:
            return None
        labels, combined = found
        unique, first, inverse = np.unique(combined[rows], return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        series = [_labels_of(key, labels) for key in unique[order].tolist()]
        return series, rank[inverse.reshape(-1)]

    def _combined(self, group_by: tuple[str, ...]) -> tuple[list[list[str]], _Rows] | None:
        """The distinct values of each group_by label, and each event's combined code (the
        first label's most significant), made once per batch; None if a label is too long.
        The caller checks that the codes cannot overflow."""
        if group_by not in self._combos:
            self._combos[group_by] = self._combine(group_by)
        return self._combos[group_by]

    def _combine(self, group_by: tuple[str, ...]) -> tuple[list[list[str]], _Rows] | None:
        labels = []
        combined = np.zeros(len(self.batch), dtype=np.int64)
        for name in group_by:
            found = self._label(name)
            if found is None:
                return None
            distinct, codes = found
            combined = combined * len(distinct) + codes
            labels.append(distinct)
        return labels, combined


@lru_cache(maxsize=64)
def _good_statuses(bad_classes: tuple[int, ...], bad_codes: tuple[int, ...]) -> _Rows:
    """1 for each status code 0-599 that counts as good, 0 for a bad one (a table to index)."""
    status = np.arange(600)
    bad = np.isin(status // 100, bad_classes) | np.isin(status, bad_codes)
    return (~bad).astype(np.int64)


def _labels_of(key: int, labels: list[list[str]]) -> SeriesKey:
    """The label values a combined code stands for (the first key's code most significant)."""
    parts = []
    for distinct in reversed(labels):
        key, part = divmod(key, len(distinct))
        parts.append(distinct[part])
    return tuple(reversed(parts))
