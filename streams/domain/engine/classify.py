"""Turn request and count events into `(slo, series, good, total)` samples (contracts §2).

This is the per-event hot path: each SLO's test is compiled once into a small closure, and
an event is checked completely before anything is counted, so a bad event is never half
applied.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from streams.domain.slo.model import AvailabilitySli, LatencySli, Slo
from streams.domain.timestamps import EARLIEST, LATEST, TimestampError, parse_ts

OTHER = "__other__"
# What one event may put into outputs: a label value is copied onto every alert, budget
# snapshot and incident of its series; counts are summed over windows and written as JSON
# integers. Larger values are refused (a 900 KB label made an alert over the producer's limit;
# a count of 2^64 could not be encoded).
MAX_LABEL = 256  # characters of one series label value
MAX_COUNT = 10**12  # good or total of one count event

SeriesKey = tuple[str, ...]
Sample = tuple[int, SeriesKey, int, int]  # (SLO position in the file, series, good, total)
_Judge = Callable[[dict[str, object]], int]  # 1 good, 0 bad
_Route = tuple[int, tuple[tuple[str, object], ...], tuple[str, ...], _Judge]


class InvalidEvent(ValueError):
    """An event that must go to the dead-letter topic; the message is the reason."""


def label_value(value: object) -> str:
    """A field value as a series label: JSON spelling for booleans, shortest form for numbers."""
    if isinstance(value, str):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return repr(int(value)) if value.is_integer() else repr(value)
    raise InvalidEvent(f"field value must be a string, number or boolean, got {type(value).__name__}")


class Classifier:
    """Routes events to the SLOs they belong to and decides good or bad for each."""

    def __init__(self, slos: Iterable[Slo]) -> None:
        self._by_service: dict[str, list[_Route]] = {}
        self._by_name: dict[str, tuple[int, Slo]] = {}
        for position, slo in enumerate(slos):
            route = (position, slo.match, slo.group_by, _judge(slo))
            self._by_service.setdefault(slo.service, []).append(route)
            self._by_name[slo.name] = (position, slo)

    def classify(self, event: object) -> tuple[float, list[Sample]]:
        """Event time and samples of one decoded event (no samples if no SLO reads it).

        Raises InvalidEvent with the dead-letter reason, whatever goes wrong: this is the one
        place where a single event could fail the worker, so any failure refuses the event.
        """
        try:
            return self._classify(event)
        except InvalidEvent:
            raise
        except Exception as exc:
            raise InvalidEvent(f"unreadable event ({type(exc).__name__})") from None

    def _classify(self, event: object) -> tuple[float, list[Sample]]:
        if type(event) is not dict:
            raise InvalidEvent(f"expected a JSON object, got {_json_type(event)}")
        if "slo" in event:
            return self._count_event(event)
        ts = event.get("ts")
        if type(ts) is not float or not EARLIEST <= ts < LATEST:  # common: an epoch float
            ts = _timestamp(event)
        service = event.get("service")
        routes = self._by_service.get(service) if type(service) is str else None
        if routes is None:
            if type(service) is not str or not service:
                raise InvalidEvent(
                    "missing service" if service is None else "service must be a non-empty string"
                )
            return ts, []
        samples: list[Sample] = []
        for position, match, group_by, judge in routes:
            if match:
                for key, value in match:
                    if event.get(key) != value:
                        break
                else:
                    samples.append((position, _series(event, group_by), judge(event), 1))
                continue
            samples.append((position, _series(event, group_by), judge(event), 1))
        return ts, samples

    def _count_event(self, event: dict[str, object]) -> tuple[float, list[Sample]]:
        ts = _timestamp(event)
        name = event["slo"]
        found = self._by_name.get(name) if isinstance(name, str) else None
        if found is None:
            raise InvalidEvent(f"unknown SLO {name!r}"[:200])
        position, slo = found
        good = event.get("good")
        total = event.get("total")
        for field, value in (("good", good), ("total", total)):
            if value is None:
                raise InvalidEvent(f"missing {field}")
            if type(value) is not int:
                raise InvalidEvent(f"{field} must be an integer")
            if value < 0:
                raise InvalidEvent(f"{field} must be >= 0")
            if value > MAX_COUNT:
                raise InvalidEvent(f"{field} must be <= {MAX_COUNT:,}")
        assert isinstance(good, int) and isinstance(total, int)
        if good > total:
            raise InvalidEvent("good > total")
        raw_series = event.get("series", {})
        if type(raw_series) is not dict:
            raise InvalidEvent("series must be an object")
        for key in raw_series:
            if key not in slo.group_by:
                raise InvalidEvent(f"series key {key!r} is not in group_by of SLO {slo.name}"[:200])
        return ts, [(position, _series(raw_series, slo.group_by), good, total)]


def _series(source: dict[str, object], group_by: tuple[str, ...]) -> SeriesKey:
    if not group_by:
        return ()
    if len(group_by) == 1:
        value = source.get(group_by[0], "")
        label = value if type(value) is str else label_value(value)
        if len(label) > MAX_LABEL:
            raise InvalidEvent(f"{group_by[0]} longer than {MAX_LABEL} characters")
        return (label,)
    key = tuple(label_value(source.get(name, "")) for name in group_by)
    for name, label in zip(group_by, key, strict=True):
        if len(label) > MAX_LABEL:
            raise InvalidEvent(f"{name} longer than {MAX_LABEL} characters"[:200])
    return key


def _timestamp(event: dict[str, object]) -> float:
    value = event.get("ts")
    if value is None:
        raise InvalidEvent("missing ts")
    try:
        return parse_ts(value)
    except TimestampError as exc:
        raise InvalidEvent(f"invalid ts: {exc}") from None


def _judge(slo: Slo) -> _Judge:
    """Compile the good/bad test of one SLO."""
    sli = slo.sli
    if isinstance(sli, LatencySli):
        threshold = sli.threshold_ms
        needed = f"missing latency_ms (needed by SLO {slo.name})"

        def latency_good(event: dict[str, object]) -> int:
            latency = event.get("latency_ms")
            kind = type(latency)
            if kind is not float and kind is not int:
                raise InvalidEvent(needed if latency is None else "latency_ms must be a number")
            assert isinstance(latency, int | float)
            if not 0 <= latency < math.inf:
                raise InvalidEvent("latency_ms must be a finite number >= 0")
            return 1 if latency <= threshold else 0

        return latency_good

    assert isinstance(sli, AvailabilitySli)
    classes, codes = sli.bad_classes, sli.bad_codes
    needed = f"missing status (needed by SLO {slo.name})"

    def availability_good(event: dict[str, object]) -> int:
        ok = event.get("ok")
        if ok is not None:
            if type(ok) is not bool:
                raise InvalidEvent("ok must be a boolean")
            return 1 if ok else 0
        status = event.get("status")
        if type(status) is not int:
            raise InvalidEvent(needed if status is None else "status must be an integer")
        if not 100 <= status <= 599:
            raise InvalidEvent(f"status out of range: {status}")
        return 0 if status // 100 in classes or status in codes else 1

    return availability_good


def _json_type(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return type(value).__name__
