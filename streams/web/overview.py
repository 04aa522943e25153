"""The overview's rows: every SLO series with its budget, burn rates and what is firing.

Pure: the leader's policy book, incident book and the SLO file in, rows out; sorting and
filtering follow the page's query parameters, so the page works without JavaScript.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from streams.domain.incidents.book import IncidentBook
from streams.domain.incidents.model import Status
from streams.domain.incidents.model import series_key as incident_key
from streams.domain.policy import PolicyBook
from streams.domain.slo.model import Severity, Slo, SloFile
from streams.domain.timestamps import parse_ts

# Most urgent first: a page firing, then a frozen budget, a ticket, a warning, then the rest.
URGENCY = ("page", "frozen", "ticket", "warn", "ok", "no data")
SORTS = ("urgency", "slo", "service", "budget", "burn_1h", "burn_6h", "exhaustion")


@dataclass(frozen=True, slots=True)
class Row:
    """One series of one SLO as the overview shows it."""

    slo: str
    service: str
    series: dict[str, str]
    labels: dict[str, str]
    objective: float
    window: str
    status: str  # one of URGENCY
    gate: str  # the service's deploy-gate state: ok, warn, frozen
    at: str | None = None  # event time of the latest snapshot
    sli: float | None = None
    remaining: float | None = None  # share of the error budget left (negative: overspent)
    bad_allowed: float | None = None  # bad events the objective allows over the period so far
    bad_used: int | None = None  # bad events over the period
    burn_1h: float | None = None
    burn_6h: float | None = None
    exhaustion_1h: float | None = None  # seconds to an empty budget at the 1h burn rate
    exhaustion_6h: float | None = None
    firing: tuple[str, ...] = ()
    incident: str | None = None  # id of the series' open incident
    incident_title: str | None = None

    def to_json(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__slots__}


def exhaustion(remaining: float | None, burn: float | None, period: float) -> float | None:
    """Seconds until the budget is spent at a steady burn rate (0: spent; None: not burning)."""
    if remaining is None or burn is None or not math.isfinite(burn) or burn <= 0:
        return None
    return max(0.0, remaining) * period / burn


def _status(slo: Slo, remaining: float, firing: tuple[str, ...]) -> str:
    severities = {rule.severity for rule in slo.policy.rules if rule.name in firing}
    if Severity.PAGE in severities:
        return "page"
    state = slo.budget_policy.state(remaining)
    if state == "frozen":
        return "frozen"
    if severities:
        return "ticket"
    return state


def rows(slo_file: SloFile, policies: PolicyBook, book: IncidentBook | None,
         only: Slo | None = None) -> list[Row]:
    """Every series with a budget, and every SLO without one yet (status `no data`); `only`:
    the series of one SLO."""
    slos = {slo.name: slo for slo in slo_file.slos}
    found: list[Row] = []
    seen: set[str] = set()
    snapshots = (policies.budgets.values() if only is None
                 else [b for b in policies.series_of(only.service) if b.slo == only.name])
    for snapshot in snapshots:
        slo = slos.get(snapshot.slo)
        if slo is None:
            continue
        seen.add(slo.name)
        firing = tuple(snapshot.firing)
        incident = None
        if book is not None:
            ident = book.by_series.get(incident_key(slo.name, snapshot.series))
            candidate = book.incidents.get(ident) if ident else None
            if candidate is not None and candidate.status is not Status.RESOLVED:
                incident = candidate
        remaining = snapshot.error_budget_remaining
        burn_1h, burn_6h = snapshot.burn_rates.get("1h"), snapshot.burn_rates.get("6h")
        found.append(Row(
            slo=slo.name, service=slo.service, series=dict(snapshot.series),
            labels=dict(slo.labels), objective=slo.objective, window=slo.window_label,
            status=_status(slo, remaining, firing), gate=policies.states.get(slo.service, "ok"),
            at=snapshot.at, sli=snapshot.sli, remaining=remaining,
            bad_allowed=(1.0 - slo.objective) * snapshot.total,
            bad_used=snapshot.total - snapshot.good, burn_1h=burn_1h, burn_6h=burn_6h,
            exhaustion_1h=exhaustion(remaining, burn_1h, slo.window),
            exhaustion_6h=exhaustion(remaining, burn_6h, slo.window),
            firing=firing, incident=incident.id if incident else None,
            incident_title=incident.title if incident else None))
    for slo in slo_file.slos if only is None else ():
        if slo.name not in seen:
            found.append(Row(slo=slo.name, service=slo.service, series={},
                             labels=dict(slo.labels), objective=slo.objective,
                             window=slo.window_label, status="no data",
                             gate=policies.states.get(slo.service, "ok")))
    return found


def _matches_label(row: Row, wanted: str) -> bool:
    name, _, value = wanted.partition("=")
    labels = {**row.labels, **row.series}
    return name in labels and (not value or labels[name] == value)


def select(found: list[Row], query: Mapping[str, str]) -> list[Row]:
    """Filter (`service`, `label` as name=value, `status`, `q` text) and sort (`sort` one of
    SORTS, `order` asc or desc); the default is most urgent first."""
    service, label = query.get("service", ""), query.get("label", "")
    status, text = query.get("status", ""), query.get("q", "").lower()
    chosen = [row for row in found
              if (not service or row.service == service)
              and (not label or _matches_label(row, label))
              and (not status or row.status == status)
              and (not text or text in f"{row.slo} {row.service} {row.series}".lower())]
    sort = query.get("sort", "urgency")
    descending = query.get("order", "asc") == "desc"
    return sorted(chosen, key=_sort_key(sort), reverse=descending)


def _missing_last(value: float | None) -> tuple[int, float]:
    return (1, 0.0) if value is None else (0, value)


def _sort_key(sort: str) -> Callable[[Row], Any]:
    def urgency(row: Row) -> tuple[object, ...]:
        return (URGENCY.index(row.status), _missing_last(row.remaining),
                _missing_last(row.exhaustion_1h), row.slo, sorted(row.series.items()))

    keys: dict[str, Callable[[Row], Any]] = {
        "slo": lambda row: (row.slo, sorted(row.series.items())),
        "service": lambda row: (row.service, row.slo, sorted(row.series.items())),
        "budget": lambda row: (_missing_last(row.remaining), row.slo),
        "burn_1h": lambda row: (_missing_last(None if row.burn_1h is None else -row.burn_1h),
                                row.slo),
        "burn_6h": lambda row: (_missing_last(None if row.burn_6h is None else -row.burn_6h),
                                row.slo),
        "exhaustion": lambda row: (_missing_last(row.exhaustion_1h), row.slo),
    }
    return keys.get(sort, urgency)


def latest_time(found: list[Row]) -> float | None:
    """Event time of the newest snapshot shown."""
    times = [parse_ts(row.at) for row in found if row.at]
    return max(times) if times else None
