"""The toil part of the incident leader's work: the ledger fed from `sre.toil` and from the
incidents it keeps, the `toil-cap` alert, and runbooks run as deliveries.

A runbook run is a delivery like a notification (same queue, retries, stored outcome, one
`Idempotency-Key` per run across restarts) to the pseudo-receiver `runbook:<name>`. When it ends
(2xx, or given up), its outcome is noted in the incident's timeline and published on
`sre.toil` as automated work: the minutes it saved when it succeeded, 0 when it failed.
"""

from __future__ import annotations

import logging
from typing import Literal

import aiohttp
import msgspec
import orjson

from streams.domain.incidents.book import IncidentBook
from streams.domain.timestamps import format_ts, parse_ts
from streams.domain.toil.config import Runbook, ToilConfig
from streams.domain.toil.ledger import team_of, work_item
from streams.domain.toil.live import LiveToil
from streams.domain.toil.runbooks import Run, RunbookPlanner, RunbookState, request_body
from streams.integrations.delivery import Attempt, call
from streams.runtime.settings import secret
from streams.wire.alerts import Alert
from streams.wire.incidents import IncidentEvent, SuggestedRunbook
from streams.wire.toil import WorkEvent, checked

log = logging.getLogger(__name__)
RUNBOOK = "runbook:"  # receiver names of runbook runs
RunOutcome = Literal["succeeded", "failed", "dry-run"]


def is_runbook(receiver: str) -> bool:
    return receiver.startswith(RUNBOOK)


class ToilKeeper:
    """Feeds the ledger and plans runbook runs; the state is the incident state's."""

    def __init__(self, config: ToilConfig, live: LiveToil, runbooks: RunbookState) -> None:
        self.config = config
        self.live = live
        self.planner = RunbookPlanner(config, runbooks)
        self.by_name = {book.name: book for book in config.runbooks}

    def on_work(self, event: WorkEvent) -> None:
        self.live.add(work_item(checked(event)))

    def on_incidents(self, events: list[IncidentEvent], book: IncidentBook
                     ) -> tuple[list[IncidentEvent], list[tuple[Run, IncidentEvent]]]:
        """The events with their suggested runbooks, and the runs they start (with the event
        that started each)."""
        annotated: list[IncidentEvent] = []
        runs: list[tuple[Run, IncidentEvent]] = []
        for event in events:
            at = parse_ts(event.at)
            decision = self.planner.on_incident(event, at)
            incident = book.incidents.get(event.id)
            for name in decision.held:
                if incident is not None:
                    incident.note(at, "runbook", f"runbook {name} not run: its max_per_hour "
                                                 f"({self.by_name[name].max_per_hour}) is reached")
            for run in decision.runs:
                if incident is not None:
                    incident.note(at, "runbook", f"runbook {run.runbook} started"
                                                 + (" (dry run)" if self.config.dry_run else ""))
            if decision.suggested:
                event = msgspec.structs.replace(event, runbooks=[
                    SuggestedRunbook(name=b.name, url=b.url) for b in decision.suggested])
            if self.config.configured:  # (no on-call ledger for apps that do not measure toil)
                self.live.on_incident(event)
            annotated.append(event)
            runs += [(run, event) for run in decision.runs]
        return annotated, runs

    def cap_alerts(self) -> list[Alert]:
        now = self.live.now
        return self.live.cap_alerts(now) if now is not None and self.live.config.teams else []

    def finished(self, runbook: str, event: IncidentEvent, attempt: Attempt,
                 book: IncidentBook) -> WorkEvent:
        """A run ended: the note in its incident's timeline, and its work event."""
        outcome: RunOutcome = ("dry-run" if attempt.status is None and attempt.detail == DRY_RUN
                               else "succeeded" if attempt.outcome == "delivered" else "failed")
        found = self.by_name.get(runbook)
        saved = found.saves_minutes if found is not None and outcome == "succeeded" else 0.0
        at = book.now if book.now is not None else parse_ts(event.at)
        incident = book.incidents.get(event.id)
        if incident is not None:
            answer = f"HTTP {attempt.status}" if attempt.status else attempt.detail[:200]
            incident.note(at, "runbook", f"runbook {runbook} {outcome} ({answer})")
        return WorkEvent(ts=format_ts(at), team=team_of(event), by=f"runbook:{runbook}",
                         task=runbook, minutes=saved, kind="automated", source="runbook",
                         ref=event.id, outcome=outcome)


DRY_RUN = "dry run: not called"


async def run_runbook(session: aiohttp.ClientSession, runbook: Runbook | None, event: IncidentEvent,
                      key: str, attempt: int, dry_run: bool) -> Attempt:
    """One attempt of a runbook's action for an incident (or, in a dry run, the log line)."""
    if runbook is None:
        return Attempt("dead", None, "runbook no longer configured")
    action = runbook.action
    body = orjson.dumps(request_body(action.body, event)) if action.body is not None else b""
    if dry_run:
        log.info("dry run: would %s %s for incident %s (runbook %s, body %s)", action.method,
                 action.url, event.id, runbook.name, body.decode()[:500])
        return Attempt("delivered", None, DRY_RUN)
    headers = {}
    for header, env in action.headers_env:
        value = secret(env)
        if value is not None:
            headers[header] = value
    return await call(session, action.method, action.url, body, key, attempt,
                      name=f"runbook {runbook.name}", headers=headers)
