"""Live noise statistics of alert rules, per rule and series (`sre.alert-stats`).

For each (SLO, series, rule): firings, firings per day since first seen, median firing
duration, flaps (fired again within an hour of resolving), the share of firings acknowledged,
and the share resolved without acknowledgement within ten minutes (noise nobody acted on).
Time is event time (the alerts' `at`, the acknowledgement's `ts`).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping

import msgspec
import orjson

from streams.domain.stored import StoredState
from streams.domain.timestamps import format_ts, parse_ts
from streams.wire.alerts import Alert, AlertStats

FLAP_WITHIN = 3600.0
QUICK = 600.0
KEEP_DURATIONS = 200  # recent firing durations kept for the median


def noise_key(slo: str, series: Mapping[str, str], rule: str) -> str:
    return orjson.dumps([slo, series, rule], option=orjson.OPT_SORT_KEYS).decode()


def row_key(message: Alert | AlertStats) -> str:
    """The key of an alert or alert-stats message (the topic's message key)."""
    return noise_key(message.slo, message.series, message.rule)


class OpenFiring(msgspec.Struct, kw_only=True):
    started: float
    acknowledged: bool = False


class RuleNoise(msgspec.Struct, kw_only=True):
    """What is counted of one rule of one series (stored as is in the changelog)."""

    slo: str
    service: str
    series: dict[str, str]
    rule: str
    severity: str
    since: float
    firings: int = 0
    resolutions: int = 0
    durations: list[float] = []
    flaps: int = 0
    acknowledged: int = 0
    quietly_resolved: int = 0
    open: OpenFiring | None = None
    last_resolved: float | None = None


class NoiseBook:
    """Statistics of every rule and series seen; an `alert-stats` event per change."""

    def __init__(self) -> None:
        self.rows: dict[str, RuleNoise] = {}
        self.by_alert: dict[str, str] = {}  # alert id -> row key

    def on_alert(self, alert: Alert) -> AlertStats:
        """Count a transition; returns the row's statistics event."""
        key = noise_key(alert.slo, alert.series, alert.rule)
        at = parse_ts(alert.at)
        row = self.rows.get(key)
        if row is None:
            row = self.rows[key] = RuleNoise(
                slo=alert.slo, service=alert.service, series=alert.series, rule=alert.rule,
                severity=alert.severity, since=at)
        if alert.status == "firing":
            self.by_alert[alert.id] = key  # (only firing alerts are acknowledged)
            if row.open is None:
                row.firings += 1
                if row.last_resolved is not None and at - row.last_resolved <= FLAP_WITHIN:
                    row.flaps += 1
                row.open = OpenFiring(started=at)
        else:
            self.by_alert.pop(alert.id, None)
        if alert.status != "firing" and row.open is not None:
            lasted = max(0.0, at - row.open.started)
            row.durations = [*row.durations, lasted][-KEEP_DURATIONS:]
            row.resolutions += 1
            if row.open.acknowledged:
                row.acknowledged += 1
            elif lasted <= QUICK:
                row.quietly_resolved += 1
            row.open = None
            row.last_resolved = at
        return self.event(row, at)

    def on_acknowledged(self, alert_ids: Iterable[str]) -> None:
        """The incident of these firing alerts was acknowledged."""
        for ident in alert_ids:
            row = self.rows.get(self.by_alert.get(ident, ""))
            if row is not None and row.open is not None:
                row.open.acknowledged = True

    @staticmethod
    def event(row: RuleNoise, at: float) -> AlertStats:
        days = max(at - row.since, 86400.0) / 86400.0  # at least a day: no huge rates early
        done = row.resolutions
        return AlertStats(
            slo=row.slo, service=row.service, series=row.series, rule=row.rule,
            severity=row.severity, at=format_ts(at), since=format_ts(row.since),
            firings=row.firings, firings_per_day=row.firings / days,
            median_firing_seconds=statistics.median(row.durations) if row.durations else None,
            flaps=row.flaps,
            acknowledged_share=row.acknowledged / done if done else None,
            quietly_resolved_share=row.quietly_resolved / done if done else None,
            firing=row.open is not None)

    def export(self) -> StoredState:
        exported = msgspec.to_builtins({"rows": self.rows, "by_alert": self.by_alert})
        assert isinstance(exported, dict)
        return exported

    def restore(self, state: object) -> None:
        stored = msgspec.convert(state, NoiseState)
        self.rows, self.by_alert = stored.rows, stored.by_alert


class NoiseState(msgspec.Struct):
    rows: dict[str, RuleNoise] = {}
    by_alert: dict[str, str] = {}
