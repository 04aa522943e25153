"""Reading the toil report's inputs from files: work events, incident changes, requests."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from streams.domain.slo.model import SloFile
from streams.domain.timestamps import parse_ts
from streams.domain.toil.ledger import WorkItem, incident_work, work_item
from streams.offline.jsonl import EventFile
from streams.wire.codec import WireError
from streams.wire.incidents import IncidentEvent, decode_incident
from streams.wire.toil import decode_work

MAX_SHOWN = 10  # bad lines printed one by one; the rest are counted


@dataclass
class Inputs:
    work: list[WorkItem] = field(default_factory=list)
    incidents: list[IncidentEvent] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)  # per team
    bad: list[str] = field(default_factory=list)  # `file:line: reason`
    latest: float | None = None

    def seen(self, at: float) -> None:
        self.latest = at if self.latest is None else max(self.latest, at)

    def ledger(self, interrupt_minutes: float, until: float) -> list[WorkItem]:
        return self.work + incident_work(self.incidents, interrupt_minutes, until)


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with EventFile(path) as events:
        for first, lines in events.blocks():
            for offset, line in enumerate(lines):
                if line.strip():
                    yield first + offset, line


def read_inputs(slos: SloFile, work: Path, incidents: Path | None,
                requests: Path | None) -> Inputs:
    inputs = Inputs()
    for number, line in _lines(work):
        try:
            item = work_item(decode_work(line))
        except WireError as exc:
            inputs.bad.append(f"{work}:{number}: {exc}")
            continue
        inputs.work.append(item)
        inputs.seen(item.at)
    if incidents is not None:
        for number, line in _lines(incidents):
            try:
                change = decode_incident(line)
                inputs.seen(parse_ts(change.at))
            except (WireError, ValueError) as exc:
                inputs.bad.append(f"{incidents}:{number}: {exc}")
                continue
            inputs.incidents.append(change)
    if requests is not None:
        _count_requests(slos, requests, inputs)
    return inputs


def teams_of(slos: SloFile) -> tuple[dict[str, str], dict[str, str]]:
    """The team of each service and of each SLO, from the SLOs' `team` labels."""
    services: dict[str, str] = {}
    by_slo: dict[str, str] = {}
    for slo in slos.slos:
        team = dict(slo.labels).get("team")
        if team:
            services.setdefault(slo.service, team)
            by_slo[slo.name] = team
    return services, by_slo


def _count_requests(slos: SloFile, path: Path, inputs: Inputs) -> None:
    """Requests served per team: request events by service, count events' totals by SLO."""
    services, by_slo = teams_of(slos)
    for number, line in _lines(path):
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            inputs.bad.append(f"{path}:{number}: not JSON ({exc})")
            continue
        for event in value if isinstance(value, list) else [value]:
            _count_one(event, services, by_slo, inputs.requests)


def _count_one(event: object, services: Mapping[str, str], by_slo: Mapping[str, str],
               requests: Counter[str]) -> None:
    if not isinstance(event, dict):
        return
    if "slo" in event:
        team = by_slo.get(str(event["slo"]))
        total = event.get("total")
        if team and isinstance(total, int) and not isinstance(total, bool) and total > 0:
            requests[team] += total
    else:
        team = services.get(str(event.get("service")))
        if team:
            requests[team] += 1
