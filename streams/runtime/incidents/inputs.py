"""The incident service's inputs, decoded at the edge: one function per input topic.

Each takes a message value and the latest acceptable time and returns the typed message with
its event time, or raises `ValueError` with the reason of its dead letter. A message with a
valid time that breaks its topic's schema comes back as its `WireError`: it still moves the
incidents' clock before it is refused, as any refused input does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import TypeVar

import msgspec
import orjson

from streams.domain.timestamps import parse_ts
from streams.runtime.settings import Topics
from streams.wire.alerts import Alert
from streams.wire.budgets import BudgetSnapshot
from streams.wire.capacity import CapacityEvent
from streams.wire.codec import WireError
from streams.wire.commands import Command, Deploy
from streams.wire.toil import WorkEvent

IncidentMessage = Alert | BudgetSnapshot | Command | Deploy | WorkEvent | CapacityEvent
M = TypeVar("M", Alert, BudgetSnapshot, Command, Deploy, WorkEvent, CapacityEvent)


class InputKind(IntEnum):
    """What an input message is; the value orders inputs of the same instant (a deploy
    before the budgets and alerts that follow it, commands last)."""

    DEPLOY = 0
    BUDGET = 1
    ALERT = 2
    COMMAND = 3
    WORK = 4  # a work event of sre.toil: the toil ledger's
    CAPACITY = 5  # a capacity event of sre.capacity: the latest per service, for the API and page

    @property
    def noun(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class IncidentInput:
    """One input message, decoded (or the schema error that refuses it)."""

    at: float  # event time
    kind: InputKind
    message: IncidentMessage | WireError
    topic: str
    partition: int
    offset: int
    raw: bytes  # for its dead letter, if refused


Decoder = Callable[[bytes | None, float], tuple[float, IncidentMessage | WireError]]


# An alert, command, deploy or budget snapshot is a few KiB; one far larger would make incident
# records and checkpoints past the producer's message limit (a crash at every restart).
MAX_INPUT_BYTES = 64 * 1024


def _checked(at: float, latest: float) -> float:
    if at > latest:  # parse_ts has refused times out of range already
        raise ValueError("timestamp in the future")
    return at


def _timed(kind: type[M], field: str, raw: bytes | None,
           latest: float) -> tuple[float, M | WireError]:
    """A message of `kind` with its event time in `field`, in range and not after `latest`."""
    if raw is not None and len(raw) > MAX_INPUT_BYTES:
        raise ValueError(f"message over the size limit ({len(raw)} > {MAX_INPUT_BYTES} bytes)")
    try:  # valid input: one typed decode
        message = msgspec.json.decode(raw or b"", type=kind)
        return _checked(parse_ts(getattr(message, field)), latest), message
    except msgspec.ValidationError as exc:
        refusal = WireError(str(exc))
    except msgspec.DecodeError:
        refusal = None
    # Refused: the reasons (and the time a schema error still moves) as the JSON object says.
    try:
        value = orjson.loads(raw)  # type: ignore[arg-type]
        if not isinstance(value, dict):
            raise ValueError("expected a JSON object")
        at = parse_ts(value[field])
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(str(exc)) from exc
    return _checked(at, latest), refusal or WireError("not JSON")


def decode_alert(raw: bytes | None, latest: float) -> tuple[float, Alert | WireError]:
    """An alert event (`sre.alerts`), timed by its evaluation instant `at`."""
    return _timed(Alert, "at", raw, latest)


def decode_budget(raw: bytes | None, latest: float) -> tuple[float, BudgetSnapshot | WireError]:
    """A budget snapshot (`sre.budgets`), timed by `at`."""
    return _timed(BudgetSnapshot, "at", raw, latest)


def decode_command(raw: bytes | None, latest: float) -> tuple[float, Command | WireError]:
    """An operator command (`sre.commands`), timed by `ts`."""
    return _timed(Command, "ts", raw, latest)


def decode_deploy(raw: bytes | None, latest: float) -> tuple[float, Deploy | WireError]:
    """A deploy event (`sre.deploys`), timed by `ts`."""
    return _timed(Deploy, "ts", raw, latest)


def decode_capacity(raw: bytes | None, latest: float) -> tuple[float, CapacityEvent | WireError]:
    """A capacity event (`sre.capacity`, the workers' own hourly forecasts), timed by `at`."""
    return _timed(CapacityEvent, "at", raw, latest)


def decode_work(raw: bytes | None, latest: float) -> tuple[float, WorkEvent | WireError]:
    """A work event (`sre.toil`), timed by `ts`."""
    return _timed(WorkEvent, "ts", raw, latest)


DECODERS: dict[InputKind, Decoder] = {
    InputKind.ALERT: decode_alert, InputKind.BUDGET: decode_budget,
    InputKind.COMMAND: decode_command, InputKind.DEPLOY: decode_deploy,
    InputKind.WORK: decode_work, InputKind.CAPACITY: decode_capacity,
}


def input_kinds(topics: Topics) -> dict[str, InputKind]:
    """The kind of each input topic, by name."""
    return {topics.alerts: InputKind.ALERT, topics.commands: InputKind.COMMAND,
            topics.deploys: InputKind.DEPLOY, topics.budgets: InputKind.BUDGET,
            topics.toil: InputKind.WORK, topics.capacity: InputKind.CAPACITY}
