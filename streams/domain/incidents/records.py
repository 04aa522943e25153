"""The incident book as JSON records (its changelog state), and back."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING

import msgspec
from msgspec import UNSET

from streams.domain.incidents.model import (
    AlertState,
    DeployRecord,
    Incident,
    Priority,
    Status,
    TimelineEntry,
)
from streams.domain.incidents.silences import Silence
from streams.domain.incidents.statistics import Totals
from streams.domain.stored import StoredState
from streams.wire.alerts import Alert
from streams.wire.incidents import IncidentAlert

if TYPE_CHECKING:
    from streams.domain.incidents.book import IncidentBook


class IncidentRecord(msgspec.Struct, kw_only=True):
    """An incident as stored: everything `Incident` holds (defaults: fields added later)."""

    id: str
    slo: str
    service: str
    series: dict[str, str]
    title: str
    priority: str
    status: str
    opened_at: float
    labels: dict[str, str] = {}
    runbook_url: str | None = None
    acknowledged_at: float | None = None
    resolved_at: float | None = None
    mitigated_at: float | None = None
    assignee: str | None = None
    escalation_level: int = 0
    escalation_due: float | None = None
    alerts: list[IncidentAlert] = []
    timeline: list[TimelineEntry] = []
    budget_at_open: float = 1.0
    budget_now: float = 1.0
    detected_after: float | None = None
    reopened: int = 0
    repaged: int = 0
    bad_at_open: int | None = None
    bad_now: int | None = None
    peak_burn_long: float = 0.0
    peak_burn_short: float = 0.0


class SuppressedAlert(IncidentAlert, frozen=True, kw_only=True):
    """A firing alert that opened nothing, with the key of its series."""

    series_key: str = ""


class BookMeta(msgspec.Struct, kw_only=True):
    """The book without its incidents: the watermark and the maps keyed by series, service,
    silence or alert (each stored a record per entry)."""

    now: float | None = None
    by_series: dict[str, str] = {}
    deploys: dict[str, list[DeployRecord]] = {}
    silences: dict[str, Silence] = {}
    silenced: dict[str, Alert] = {}
    suppressed: dict[str, SuppressedAlert] | list[SuppressedAlert] = {}  # (a list at first)
    retired: dict[str, Totals] = {}  # statistics of the incidents retention removed, by service


def incident_record(incident: Incident) -> StoredState:
    """The incident as a JSON-ready record (state stored in the changelog)."""
    fields = dataclasses.asdict(incident)  # (AlertState and the timeline are converted below)
    fields.update(priority=incident.priority.value, status=incident.status.value,
                  alerts=[a.export() for a in incident.alerts.values()],
                  timeline=list(incident.timeline))
    record = msgspec.to_builtins(IncidentRecord(**fields))
    assert isinstance(record, dict)
    return record


def incident_from_record(record: object) -> Incident:
    stored = msgspec.convert(record, IncidentRecord)
    fields = {f: getattr(stored, f) for f in stored.__struct_fields__}
    fields.update(priority=Priority(stored.priority), status=Status(stored.status),
                  alerts={a.id: _state(a) for a in stored.alerts})
    return Incident(**fields)


def book_meta(book: IncidentBook) -> StoredState:
    """The book without its incidents (those are records of their own): the watermark, and
    maps keyed by series, service, silence or alert (stored a record per entry)."""
    meta = msgspec.to_builtins(BookMeta(
        now=book.now, by_series=book.by_series, deploys=book.deploys, silences=book.silences,
        silenced=book.silenced,
        suppressed={a.id: SuppressedAlert(**msgspec.structs.asdict(a.export()),
                                          series_key=book.suppressed_series.get(a.id, ""))
                    for a in book.suppressed.values()},
        retired=book.retired.totals))
    assert isinstance(meta, dict)
    return meta


def restore_book(book: IncidentBook, meta: object, records: Iterable[object]) -> None:
    stored = msgspec.convert(meta, BookMeta)
    book.now = stored.now
    book.by_series = dict(stored.by_series)
    book.deploys = {k: list(v) for k, v in stored.deploys.items()}
    book.silences = dict(stored.silences)
    book.silenced = dict(stored.silenced)
    suppressed = (list(stored.suppressed.values()) if isinstance(stored.suppressed, dict)
                  else stored.suppressed)
    book.suppressed_series = {a.id: a.series_key for a in suppressed}
    book.suppressed = {a.id: _state(a) for a in suppressed}
    book.retired.totals = dict(stored.retired)
    book.incidents = {}
    for record in records:
        incident = incident_from_record(record)
        book.incidents[incident.id] = incident
    book.reschedule()


def _state(alert: IncidentAlert) -> AlertState:
    return AlertState(
        id=alert.id, rule=alert.rule, severity=alert.severity, status=alert.status,
        started_at=alert.started_at, at=alert.at, burn_rate_long=alert.burn_rate_long,
        burn_rate_short=alert.burn_rate_short, error_budget_remaining=alert.error_budget_remaining,
        suppressed=None if alert.suppressed is UNSET else alert.suppressed)
