"""`sre.policy`: a service's error-budget policy state changes, violations and overrides."""

from __future__ import annotations

from typing import Literal

import msgspec
from msgspec import UNSET, UnsetType

from streams.wire.codec import decode
from streams.wire.commands import Deploy
from streams.wire.envelope import Envelope

PolicyState = Literal["ok", "warn", "frozen"]


class Override(msgspec.Struct, frozen=True, kw_only=True):
    """A freeze exception granted by an approver until `expires_at`."""

    service: str
    change_class: str | None  # None: any change class
    approver: str
    reason: str
    created_at: str
    expires_at: str


class PolicyEvent(Envelope, frozen=True, kw_only=True, tag="policy"):
    """A state change (`state`), a deploy during a freeze (`violation`) or an `override`."""

    event: Literal["state", "violation", "override"]
    service: str
    state: PolicyState
    previous: PolicyState | UnsetType = UNSET
    at: str
    reason: str
    deploy: Deploy | UnsetType = UNSET
    override: Override | UnsetType = UNSET
    slo: str | UnsetType = UNSET  # the worst series, which decided the state
    series: dict[str, str] | UnsetType = UNSET
    error_budget_remaining: float | UnsetType = UNSET
    period_start: str | UnsetType = UNSET  # the worst series' calendar period, if it has one
    period_end: str | UnsetType = UNSET


def decode_policy(data: bytes | str) -> PolicyEvent:
    return decode(data, PolicyEvent, "policy event")
