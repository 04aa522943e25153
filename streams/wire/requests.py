"""`sre.requests`: request events and count events, one per message or a batch in an array."""

from __future__ import annotations

from typing import TypeAlias

import msgspec
from msgspec import UNSET, UnsetType

from streams.wire.codec import WireError, convert
from streams.wire.envelope import InputTime, ServiceEvent

Attribute: TypeAlias = str | int | float | bool  # a key usable in `match` and `group_by`


class RequestEvent(ServiceEvent, frozen=True, kw_only=True):
    """One served request; keys beyond the known ones are its attributes."""

    operation: str | UnsetType = UNSET
    status: int | UnsetType = UNSET
    ok: bool | UnsetType = UNSET
    latency_ms: float | UnsetType = UNSET
    attributes: dict[str, Attribute] = msgspec.field(default_factory=dict)


class CountEvent(msgspec.Struct, frozen=True, kw_only=True):
    """Good and valid events of one SLO (series) counted upstream over an interval ending at ts."""

    ts: InputTime
    slo: str
    good: int
    total: int
    series: dict[str, str] | UnsetType = UNSET


_KNOWN = frozenset(RequestEvent.__struct_fields__) - {"attributes"}


def request_event(value: object) -> RequestEvent | CountEvent:
    """The typed event of one parsed JSON object: a count event when it names an `slo`."""
    if not isinstance(value, dict):
        raise WireError("invalid event: expected a JSON object")
    if "slo" in value:
        count = convert(value, CountEvent, "count event")
        if count.good < 0:  # (the reasons the engine's decoder gives these)
            raise WireError("good must be >= 0")
        if count.good > count.total:
            raise WireError("good > total")
        return count
    known = {k: v for k, v in value.items() if k in _KNOWN}
    known["attributes"] = {k: v for k, v in value.items() if k not in _KNOWN}
    return convert(known, RequestEvent, "request event")


def decode_requests(data: bytes | str) -> list[RequestEvent | CountEvent]:
    """The events of one `sre.requests` message (an object or an array of objects)."""
    try:
        value = msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        raise WireError(f"invalid request message: not JSON ({exc})") from None
    return [request_event(v) for v in (value if isinstance(value, list) else [value])]
