"""What several messages share: the envelope of every output message, the SLO series a
message is about, and the service and time of an input event."""

from __future__ import annotations

import msgspec

InputTime = int | float | str  # epoch seconds or RFC 3339 (contracts §1)


class Envelope(msgspec.Struct, frozen=True, kw_only=True, tag_field="kind"):
    """An output message: a JSON object with its `kind` (the tag) and `version` 1 (contracts §2).

    Subclasses say `frozen=True, kw_only=True` again: msgspec does not inherit `kw_only` (their
    fields would be encoded before `version`), and type checkers do not inherit `frozen`.
    """

    version: int = 1


class SeriesMessage(Envelope, frozen=True, kw_only=True):
    """An output message about one SLO series."""

    slo: str
    service: str
    series: dict[str, str]


class ServiceEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An input event of a service at `ts`: a request it served, a deploy of it."""

    ts: InputTime
    service: str
