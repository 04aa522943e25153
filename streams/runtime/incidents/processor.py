"""The incident leader's logic: decoded inputs in, state changes and output events out.

No Kafka and no asyncio: `streams.runtime.incidents.service` moves messages between Kafka and
these calls, and `streams.runtime.incidents.deliveries` makes the HTTP attempts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

import msgspec
import orjson

from streams.domain.incidents.book import series_key as incident_series
from streams.domain.incidents.postmortem import postmortem_markdown
from streams.domain.notify.receivers import delivery_key
from streams.domain.policy import series_key as budget_key
from streams.domain.slo.model import SloFile
from streams.domain.toil.runbooks import Run
from streams.integrations.delivery import Attempt
from streams.runtime.incidents.inputs import DECODERS, IncidentInput, InputKind, input_kinds
from streams.runtime.incidents.state import Delivery, IncidentState, Outputs, capacity_key
from streams.runtime.incidents.toil import RUNBOOK, ToilKeeper, is_runbook
from streams.runtime.settings import Topics
from streams.runtime.state.checkpoint import Checkpoint
from streams.wire.alerts import Alert
from streams.wire.budgets import BudgetSnapshot
from streams.wire.capacity import CapacityEvent
from streams.wire.codec import WireError
from streams.wire.commands import Command
from streams.wire.dead_letter import DeadLetter, dead_letter
from streams.wire.incidents import IncidentEvent
from streams.wire.toil import WorkEvent

InputRecord = tuple[str, int, int, bytes | None]  # topic, partition, offset, value
LogLine = tuple[int, str, tuple[object, ...]]  # level, message, arguments: logged once stored


@dataclass
class Step:
    """What applying some input produced: output events to publish after the checkpoint, and
    dead letters; `moved`: input offsets advanced (the checkpoint must store them)."""

    outputs: Outputs = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    moved: bool = False

    def __bool__(self) -> bool:
        return bool(self.outputs or self.dead_letters or self.moved)


class IncidentProcessor:
    """Incidents, budget policy, noise statistics and pending deliveries of the whole app."""

    def __init__(self, slo_file: SloFile, topics: Topics, max_future: float,
                 state: IncidentState | None = None) -> None:
        self.notify = slo_file.notify
        self.escalation = [level.notify for level in slo_file.incidents.escalation]
        self.topics = topics
        self.max_future = max_future
        self.kinds = input_kinds(topics)
        self.state = state if state is not None else IncidentState.empty(slo_file)
        self.toil = ToilKeeper(slo_file.toil, self.state.toil, self.state.runbooks)

    def decode(self, records: Iterable[InputRecord], now: float,
               step: Step) -> list[IncidentInput]:
        """The records not applied yet, decoded; the refused ones are dead-lettered."""
        offsets = self.state.offsets
        latest = now + self.max_future  # one clock ahead must not move ours
        inputs = []
        for topic, partition, offset, raw in records:
            name = f"{topic}:{partition}"
            if offset <= offsets.get(name, -1):
                continue
            offsets[name] = offset
            step.moved = True
            kind = self.kinds[topic]
            try:
                at, message = DECODERS[kind](raw, latest)
            except Exception as exc:  # the guard of one input: refused, never fatal
                reason = str(exc) if isinstance(exc, ValueError) else type(exc).__name__
                step.dead_letters.append(dead_letter(f"invalid {kind.noun}: {reason}", topic,
                                                     partition, offset, raw or b""))
                continue
            inputs.append(IncidentInput(at, kind, message, topic, partition, offset, raw or b""))
        return inputs

    def apply(self, records: Iterable[InputRecord], now: float) -> Step:
        """Decode and apply input records in event-time order."""
        step = Step()
        inputs = self.decode(records, now, step)
        inputs.sort(key=lambda item: (item.at, item.kind))
        state, topics = self.state, self.topics
        book, policies = state.book, state.policies
        for item in inputs:
            message = item.message
            # Time moves first: escalations due by now happen whether or not the item is valid.
            # (Budgets are not incident inputs: they do not move the incidents' clock.)
            # (Nor is work: typed in by people, its times may be far from the alerts'.)
            if item.kind not in (InputKind.BUDGET, InputKind.WORK, InputKind.CAPACITY):
                step.outputs += [(topics.incidents, e) for e in book.advance(item.at)]
            try:
                if isinstance(message, WireError):
                    raise message
                if isinstance(message, CapacityEvent):
                    state.capacity[capacity_key(message)] = message
                    continue
                if isinstance(message, WorkEvent):
                    self.toil.on_work(message)
                    continue
                if isinstance(message, BudgetSnapshot):
                    key = budget_key(message.slo, message.series)  # once for all three
                    step.outputs += [(topics.policy, e)
                                     for e in policies.on_budget(message, key, item.at)]
                    state.history.on_budget(message, key, item.at)
                    state.changed_budgets.add(key)
                    continue
                if isinstance(message, Alert):
                    events = book.on_alert(message)
                    step.outputs.append((topics.alert_stats, state.noise.on_alert(message)))
                    # Saved even when the alert made no news (inhibited, a late resolution).
                    latest_id = book.by_series.get(incident_series(message.slo, message.series))
                    if latest_id is not None:
                        state.changed.add(latest_id)
                elif isinstance(message, Command):
                    events = [self._by(event, message) for event in book.on_command(message)]
                else:
                    events = book.on_deploy(message)
                    step.outputs += [(topics.policy, e) for e in policies.on_deploy(message)]
                    state.changed.update(i.id for i in book.incidents.values()
                                         if i.service == message.service)
            except Exception as exc:  # refused, or malformed in a way not foreseen: never fatal
                step.dead_letters.append(dead_letter(
                    f"{item.kind.noun} refused: {exc}", item.topic, item.partition, item.offset,
                    item.raw))
                continue
            step.outputs += [(topics.incidents, e) for e in self._annotated(events)]
        step.outputs += [(topics.alerts, alert) for alert in self.toil.cap_alerts()]
        return step

    @staticmethod
    def _by(event: IncidentEvent, command: Command) -> IncidentEvent:
        """A change the command made carries who issued it (escalations that fell due before
        it do not)."""
        if event.id != command.incident or event.event == "escalated":
            return event
        return msgspec.structs.replace(event, by=command.by)

    def _annotated(self, events: list[IncidentEvent]) -> list[IncidentEvent]:
        """Incident events with what follows from them: noise statistics learn
        acknowledgements, a resolution carries its postmortem."""
        book = self.state.book
        annotated = []
        for event in events:
            if event.event == "acknowledged":
                self.state.noise.on_acknowledged(a.id for a in event.alerts
                                                 if a.status == "firing")
            if event.event == "resolved":
                incident = book.incidents[event.id]
                event = msgspec.structs.replace(event, postmortem=postmortem_markdown(
                    incident, book.deploys.get(incident.service)))
            annotated.append(event)
        return annotated

    def advance(self, now: float) -> Step:
        """Event time follows the clock while no input comes: escalations still happen."""
        return Step([(self.topics.incidents, e) for e in self.state.book.advance(now)])

    def add_override(self, service: str, body: object, now: float, *,
                     max_duration: float | None = None) -> Step:
        """An override of a service's budget policy; its audit event goes to `sre.policy`."""
        event = self.state.policies.add_override(service, body, now, max_duration=max_duration)
        return Step([(self.topics.policy, event)])

    def commit(self, step: Step) -> Checkpoint:
        """Queue the deliveries of the step's incident events and checkpoint it all, its
        outputs as the outbox (to publish once the checkpoint is stored)."""
        state = self.state
        runs = self._toil(step)
        incident_events = [event for _, event in step.outputs if isinstance(event, IncidentEvent)]
        state.changed.update(event.id for event in incident_events)
        for event in incident_events:
            for receiver in self.notify.receivers_for(event, self.escalation):
                state.delivery_seq += 1
                key = delivery_key(event, receiver.name, state.delivery_seq)
                state.pending[key] = Delivery(key=key, receiver=receiver.name, event=event,
                                              seq=state.delivery_seq)
        for run, event in runs:
            state.delivery_seq += 1
            state.pending[run.key] = Delivery(key=run.key, receiver=RUNBOOK + run.runbook,
                                              event=event, seq=state.delivery_seq)
        state.outbox = step.outputs
        return state.checkpoint()

    def _toil(self, step: Step) -> list[tuple[Run, IncidentEvent]]:
        """The step's incident events with their suggested runbooks (in place), fed to the toil
        ledger; the runbook runs they start."""
        events = [event for _, event in step.outputs if isinstance(event, IncidentEvent)]
        if not events:
            return []
        annotated, runs = self.toil.on_incidents(events, self.state.book)
        replaced = iter(annotated)
        step.outputs = [(topic, next(replaced) if isinstance(event, IncidentEvent) else event)
                        for topic, event in step.outputs]
        self.state.changed.update(run.incident for run, _ in runs)
        return runs

    def record(self, done: list[tuple[Delivery, Attempt | None]]) -> tuple[Step, list[LogLine]]:
        """The outcome of delivery attempts: pending ones done, retried or given up (those
        dead-lettered); returns the step to commit and the lines to log once it is stored."""
        step = Step()
        lines: list[LogLine] = []
        pending = self.state.pending
        for delivery, attempt in done:
            key = delivery.key
            if pending.get(key) is not delivery:
                continue  # delivered meanwhile, or state restored since: it decides
            if is_runbook(delivery.receiver) and attempt is not None and attempt.outcome != "retry":
                step.outputs.append((self.topics.toil, self.toil.finished(
                    delivery.receiver[len(RUNBOOK):], delivery.event, attempt, self.state.book)))
                self.state.changed.add(delivery.event.id)
            if attempt is None or attempt.outcome == "delivered":
                del pending[key]
                if attempt is not None:
                    lines.append((logging.INFO, "delivered %s %s of %s to %s (HTTP %s)", (
                        delivery.event.event, key, delivery.event.id, delivery.receiver,
                        attempt.status)))
            elif attempt.outcome == "retry":
                delivery.attempt += 1
                delivery.not_before = attempt.retry_at
                lines.append((logging.WARNING, "delivery to %s failed (%s), retry %d", (
                    delivery.receiver, attempt.status or attempt.detail, delivery.attempt)))
            else:
                del pending[key]
                reason = self._refusal(delivery.receiver, attempt)
                step.dead_letters.append(self._dead_delivery(reason, delivery, attempt))
                lines.append((logging.WARNING, "%s: dead-lettered", (reason,)))
        return step, lines

    @staticmethod
    def _refusal(receiver: str, attempt: Attempt) -> str:
        return (f"notification refused by {receiver}: HTTP {attempt.status}" if attempt.status
                else f"notification to {receiver} failed: {attempt.detail}")

    def _dead_delivery(self, reason: str, delivery: Delivery, attempt: Attempt) -> DeadLetter:
        """The dead letter of a delivery given up: its payload is not cut at 4 KiB (a
        receiver's answer is kept whole, as before)."""
        return msgspec.structs.replace(
            dead_letter(reason, self.topics.incidents, -1, -1, b""),
            payload=orjson.dumps({
                "delivery": delivery.key, "receiver": delivery.receiver,
                "response": attempt.detail, "incident": delivery.event.id,
                "event": delivery.event.event}).decode())
