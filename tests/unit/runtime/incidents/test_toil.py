"""The incident leader's toil work without a broker: who issued a command, runbook runs queued
as deliveries, their outcome published, and the ledger restored."""

from __future__ import annotations

import time

import orjson

from streams.domain.slo.loader import parse_slo_text
from streams.domain.toil.ledger import incident_work
from streams.integrations.delivery import Attempt
from streams.runtime.incidents.processor import IncidentProcessor
from streams.runtime.incidents.state import IncidentState
from streams.wire.incidents import IncidentEvent
from streams.wire.toil import WorkEvent
from tests.unit.conftest import T0, command_fields
from tests.unit.runtime.incidents.conftest import FILE, SETTINGS, page

TOIL = FILE + """toil:
  teams: [{name: payments, people: 2}]
  runbooks:
    - {name: restart, match: {rule: page-fast}, mode: auto, saves_minutes: 15,
       action: {webhook: {url: "http://127.0.0.1:9/run"}}}
"""
SLOS = parse_slo_text(TOIL)
TOPICS = SETTINGS.topics
CHANGELOG: list[tuple[bytes, bytes | None]] = []  # every checkpoint's records, in order


def feed(processor: IncidentProcessor, topic: str, *messages: dict[str, object],
         offset: list[int] = [0]) -> list[object]:  # noqa: B006 - one offset counter per run
    records = []
    for message in messages:
        offset[0] += 1
        records.append((topic, 0, offset[0], orjson.dumps(message)))
    step = processor.apply(records, time.time())
    CHANGELOG.extend(processor.commit(step).messages())
    return [event for _, event in step.outputs]


def test_commands_carry_who_issued_them_and_count_as_interrupts() -> None:
    processor = IncidentProcessor(SLOS, TOPICS, 60)
    [opened] = [e for e in feed(processor, TOPICS.alerts, page("eu", "firing", T0))
                if isinstance(e, IncidentEvent)]
    changes = [opened]
    for name, at, extra in (("ack", 120, {}), ("note", 180, {"text": "looking"}),
                            ("resolve", 600, {})):
        changes += [e for e in feed(processor, TOPICS.commands,
                                    command_fields(name, opened.id, T0 + at, **extra))
                    if isinstance(e, IncidentEvent)]
    assert [(c.event, c.by) for c in changes[1:]] == [
        ("acknowledged", "alice"), ("updated", "alice"), ("resolved", "alice")]
    work = incident_work(changes, interrupt_minutes=10, until=T0 + 3600)
    assert sorted(w.task for w in work) == ["incident response: checkout-availability",
                                            "interrupt: command", "interrupt: command",
                                            "interrupt: command", "interrupt: page"]
    assert sum(w.minutes for w in work) == 480 / 60 + 4 * 10


def test_a_run_is_a_delivery_whose_outcome_is_published_as_work_and_restored() -> None:
    processor = IncidentProcessor(SLOS, TOPICS, 60)
    CHANGELOG.clear()
    feed(processor, TOPICS.alerts, page("eu", "firing", T0))
    runs = [d for d in processor.state.pending.values() if d.receiver == "runbook:restart"]
    assert len(runs) == 1 and runs[0].key.startswith("runbook:restart:inc-")
    step, _ = processor.record([(runs[0], Attempt("delivered", 200, "ok"))])
    [(topic, work)] = step.outputs
    assert topic == TOPICS.toil and isinstance(work, WorkEvent)
    assert (work.kind, work.task, work.minutes, work.outcome) == ("automated", "restart", 15,
                                                                 "succeeded")
    CHANGELOG.extend(processor.commit(step).messages())
    # A restart restores the runbook's runs (no second run for the incident) and the ledger.
    restored = IncidentProcessor(SLOS, TOPICS, 60, IncidentState.restored(
        SLOS, list(dict(CHANGELOG).items())))
    assert restored.state.runbooks.ran_for == processor.state.runbooks.ran_for
    assert restored.state.toil.export() == processor.state.toil.export()
    assert "runbook:restart" not in {d.receiver for d in restored.state.pending.values()}


def test_a_dry_run_calls_nothing_and_says_what_it_would_do(caplog) -> None:  # type: ignore[no-untyped-def]
    import asyncio
    import logging

    from streams.runtime.incidents.toil import run_runbook

    processor = IncidentProcessor(SLOS, TOPICS, 60)
    CHANGELOG.clear()
    feed(processor, TOPICS.alerts, page("us", "firing", T0))
    [run] = [d for d in processor.state.pending.values() if d.receiver == "runbook:restart"]

    async def attempt() -> Attempt:
        # a URL nothing listens on: a call would fail, a dry run makes none
        return await run_runbook(None, SLOS.toil.runbooks[0], run.event, run.key, 1,  # type: ignore[arg-type]
                                 dry_run=True)

    with caplog.at_level(logging.INFO):
        result = asyncio.run(attempt())
    assert result.outcome == "delivered" and result.status is None
    assert "dry run: would POST http://127.0.0.1:9/run" in caplog.text
    step, _ = processor.record([(run, result)])
    [(_, work)] = step.outputs
    assert isinstance(work, WorkEvent) and work.outcome == "dry-run" and work.minutes == 0
