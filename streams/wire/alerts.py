"""`sre.alerts`: burn-rate rule transitions (contracts §5), and `sre.alert-stats`."""

from __future__ import annotations

from typing import Literal

from msgspec import UNSET, UnsetType

from streams.wire.codec import decode
from streams.wire.envelope import Envelope, SeriesMessage

AlertStatus = Literal["firing", "resolved"]


class Alert(Envelope, frozen=True, kw_only=True, tag="alert"):
    """A rule's transition for one SLO series; `id` is the dedup key."""

    id: str
    status: AlertStatus
    slo: str
    service: str
    series: dict[str, str]
    rule: str
    severity: str
    long_window: str
    short_window: str
    threshold: float
    burn_rate_long: float
    burn_rate_short: float
    error_budget_remaining: float
    at: str
    started_at: str
    labels: dict[str, str]
    annotations: dict[str, str]
    period_bad_events: int | UnsetType = UNSET
    burning_since: str | UnsetType = UNSET

    @property
    def firing(self) -> bool:
        return self.status == "firing"


class AlertStats(SeriesMessage, frozen=True, kw_only=True, tag="alert-stats"):
    """How noisy one rule of one series has been since `since`."""

    rule: str
    severity: str
    at: str
    since: str
    firings: int
    firings_per_day: float
    median_firing_seconds: float | None
    flaps: int
    acknowledged_share: float | None
    quietly_resolved_share: float | None
    firing: bool


def decode_alert(data: bytes | str) -> Alert:
    return decode(data, Alert, "alert")


def decode_alert_stats(data: bytes | str) -> AlertStats:
    return decode(data, AlertStats, "alert statistics")
