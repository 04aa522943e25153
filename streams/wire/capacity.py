"""Capacity planning: `sre.resources` (input gauges) and `sre.capacity` (forecasts), and the
report of `sre-streams capacity --json`, whose `services` items are the events' fields."""

from __future__ import annotations

from typing import Literal

import msgspec
from msgspec import UNSET, UnsetType

from streams.wire.codec import WireError, convert, decode
from streams.wire.envelope import Envelope, InputTime

CapacityStatus = Literal["ok", "warn", "critical", "unknown"]


class ResourceEvent(msgspec.Struct, frozen=True, kw_only=True):
    """How much of a resource a service uses at `ts` (and, optionally, how much it has)."""

    ts: InputTime
    service: str
    resource: str
    used: float
    capacity: float | UnsetType = UNSET


class Bounds(msgspec.Struct, frozen=True, kw_only=True):
    p50: float | None
    p90: float | None


class TimeBounds(msgspec.Struct, frozen=True, kw_only=True):
    p50: str | None
    p90: str | None


class ForecastPoint(msgspec.Struct, frozen=True, kw_only=True):
    at: str
    p10: float
    p50: float
    p90: float


class BacktestScore(msgspec.Struct, frozen=True, kw_only=True):
    coverage_p10_p90: float | None
    mape: float | None


class ServiceCapacity(msgspec.Struct, frozen=True, kw_only=True):
    """One service (or one resource of it): usable capacity, forecast and runway."""

    service: str
    resource: str | None
    unit: str | None
    usable_capacity: float | None
    peak_now: float | None
    growth_per_day: float | None
    runway_days: Bounds
    exhausted_at: TimeBounds
    lead_time_days: float
    status: CapacityStatus
    forecast: list[ForecastPoint]
    backtest: BacktestScore
    warnings: list[str]


class CapacityEvent(Envelope, frozen=True, kw_only=True, tag="capacity"):
    """`sre.capacity`, keyed by service: one `services` item with `kind`, `version` and `at`."""

    at: str
    service: str
    resource: str | None
    unit: str | None
    usable_capacity: float | None
    peak_now: float | None
    growth_per_day: float | None
    runway_days: Bounds
    exhausted_at: TimeBounds
    lead_time_days: float
    status: CapacityStatus
    forecast: list[ForecastPoint]
    backtest: BacktestScore
    warnings: list[str]


class CapacityReport(Envelope, frozen=True, kw_only=True, tag="capacity"):
    """`sre-streams capacity --json`: every planned service, most urgent first."""

    at: str
    services: list[ServiceCapacity]


_RESOURCE_KEYS = frozenset(ResourceEvent.__struct_fields__)


def resource_event(value: object) -> ResourceEvent:
    """The typed resource event of one parsed JSON object; WireError says what is wrong."""
    if not isinstance(value, dict):
        raise WireError("invalid resource event: expected a JSON object")
    unknown = sorted(set(value) - _RESOURCE_KEYS)
    if unknown:
        raise WireError(f"invalid resource event: unknown key {unknown[0]!r}")
    event = convert(value, ResourceEvent, "resource event")
    if not event.service or not event.resource:
        raise WireError("invalid resource event: service and resource must be non-empty")
    for name, number in (("used", event.used), ("capacity", event.capacity)):
        if isinstance(number, float) and not (number >= 0 and number != float("inf")):
            raise WireError(f"invalid resource event: {name} must be a finite number >= 0")
    return event


def decode_capacity(data: bytes | str) -> CapacityEvent:
    return decode(data, CapacityEvent, "capacity event")


def decode_capacity_report(data: bytes | str) -> CapacityReport:
    return decode(data, CapacityReport, "capacity report")
