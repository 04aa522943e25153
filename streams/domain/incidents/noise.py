"""Live noise statistics of alert rules, per rule and series (`sre.alert-stats`).

For each (SLO, series, rule): firings, firings per day since first seen, median firing
duration, flaps (fired again within an hour of resolving), the share of firings acknowledged,
and the share resolved without acknowledgement within ten minutes (noise nobody acted on).
Time is event time (the alerts' `at`, the acknowledgement's `ts`).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from streams.domain.timestamps import format_ts, parse_ts

FLAP_WITHIN = 3600.0
QUICK = 600.0
KEEP_DURATIONS = 200  # recent firing durations kept for the median


def row_key(alert: Mapping[str, Any]) -> str:
    return orjson.dumps([alert["slo"], alert.get("series") or {}, alert["rule"]],
                        option=orjson.OPT_SORT_KEYS).decode()


class NoiseBook:
    """Statistics of every rule and series seen; an `alert-stats` event per change."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self.by_alert: dict[str, str] = {}  # alert id -> row key

    def on_alert(self, alert: Mapping[str, Any]) -> dict[str, object]:
        """Count a transition; returns the row's statistics event."""
        key = row_key(alert)
        at = parse_ts(alert["at"])
        row = self.rows.setdefault(key, {
            "slo": alert["slo"], "service": alert["service"], "series": alert.get("series") or {},
            "rule": alert["rule"], "severity": alert["severity"], "since": at, "firings": 0,
            "resolutions": 0, "durations": [], "flaps": 0, "acknowledged": 0,
            "quietly_resolved": 0, "open": None, "last_resolved": None})
        if alert["status"] == "firing":
            self.by_alert[str(alert["id"])] = key  # (only firing alerts are acknowledged)
            if row["open"] is None:
                row["firings"] += 1
                if row["last_resolved"] is not None and at - row["last_resolved"] <= FLAP_WITHIN:
                    row["flaps"] += 1
                row["open"] = {"started": at, "acknowledged": False}
        else:
            self.by_alert.pop(str(alert["id"]), None)
        if alert["status"] != "firing" and row["open"] is not None:
            lasted = max(0.0, at - row["open"]["started"])
            row["durations"] = [*row["durations"], lasted][-KEEP_DURATIONS:]
            row["resolutions"] += 1
            if row["open"]["acknowledged"]:
                row["acknowledged"] += 1
            elif lasted <= QUICK:
                row["quietly_resolved"] += 1
            row["open"] = None
            row["last_resolved"] = at
        return self.event(row, at)

    def on_acknowledged(self, alert_ids: Iterable[str]) -> None:
        """The incident of these firing alerts was acknowledged."""
        for ident in alert_ids:
            row = self.rows.get(self.by_alert.get(ident, ""))
            if row is not None and row["open"] is not None:
                row["open"]["acknowledged"] = True

    @staticmethod
    def event(row: Mapping[str, Any], at: float) -> dict[str, object]:
        days = max(at - row["since"], 86400.0) / 86400.0  # at least a day: no huge rates early
        done = row["resolutions"]
        return {
            "kind": "alert-stats", "version": 1, "slo": row["slo"], "service": row["service"],
            "series": row["series"], "rule": row["rule"], "severity": row["severity"],
            "at": format_ts(at), "since": format_ts(row["since"]), "firings": row["firings"],
            "firings_per_day": row["firings"] / days,
            "median_firing_seconds": statistics.median(row["durations"]) if row["durations"] else None,
            "flaps": row["flaps"],
            "acknowledged_share": row["acknowledged"] / done if done else None,
            "quietly_resolved_share": row["quietly_resolved"] / done if done else None,
            "firing": row["open"] is not None,
        }

    def export(self) -> dict[str, object]:
        return {"rows": self.rows, "by_alert": self.by_alert}

    def restore(self, state: Mapping[str, Any]) -> None:
        self.rows = {str(k): dict(v) for k, v in (state.get("rows") or {}).items()}
        self.by_alert = {str(k): str(v) for k, v in (state.get("by_alert") or {}).items()}
