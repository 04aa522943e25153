"""The bodies receivers take: PagerDuty Events API v2, Alertmanager webhook v4, Slack text."""

from __future__ import annotations

import msgspec
from msgspec import UNSET, UnsetType


class PagerDutyAlert(msgspec.Struct, frozen=True, kw_only=True):
    rule: str
    status: str
    burn_rate_long: float
    burn_rate_short: float


class PagerDutyDetails(msgspec.Struct, frozen=True, kw_only=True):
    slo: str
    series: dict[str, str]
    error_budget_remaining: float
    escalation_level: int
    alerts: list[PagerDutyAlert]


class PagerDutyPayload(msgspec.Struct, frozen=True, kw_only=True):
    summary: str
    source: str
    severity: str
    timestamp: str
    component: str
    group: str
    event_class: str = msgspec.field(name="class")
    custom_details: PagerDutyDetails


class PagerDutyLink(msgspec.Struct, frozen=True, kw_only=True):
    href: str
    text: str


class PagerDutyEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An Events API v2 event; `payload` on triggers only."""

    routing_key: str | None
    event_action: str
    dedup_key: str
    payload: PagerDutyPayload | UnsetType = UNSET
    links: list[PagerDutyLink] | UnsetType = UNSET


class AlertmanagerAlert(msgspec.Struct, frozen=True, kw_only=True):
    status: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: str = msgspec.field(name="startsAt")
    ends_at: str = msgspec.field(name="endsAt")
    generator_url: str = msgspec.field(name="generatorURL")
    fingerprint: str


class AlertmanagerWebhook(msgspec.Struct, frozen=True, kw_only=True):
    """Alertmanager's webhook (version 4): one alert per incident."""

    version: str
    group_key: str = msgspec.field(name="groupKey")
    truncated_alerts: int = msgspec.field(name="truncatedAlerts")
    status: str
    receiver: str
    group_labels: dict[str, str] = msgspec.field(name="groupLabels")
    common_labels: dict[str, str] = msgspec.field(name="commonLabels")
    common_annotations: dict[str, str] = msgspec.field(name="commonAnnotations")
    external_url: str = msgspec.field(name="externalURL")
    alerts: list[AlertmanagerAlert]


class SlackMessage(msgspec.Struct, frozen=True):
    text: str
