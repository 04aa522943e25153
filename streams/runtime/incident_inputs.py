"""The incident service's inputs, decoded at the edge: one function per input topic.

Each takes a message value and the latest acceptable time and returns the decoded message
with its event time, or raises `ValueError` with the reason of its dead letter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import orjson

from streams.domain.timestamps import parse_ts
from streams.runtime.settings import Topics


class InputKind(IntEnum):
    """What an input message is; the value orders inputs of the same instant (a deploy
    before the budgets and alerts that follow it, commands last)."""

    DEPLOY = 0
    BUDGET = 1
    ALERT = 2
    COMMAND = 3

    @property
    def noun(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class IncidentInput:
    """One input message, decoded."""

    at: float  # event time
    kind: InputKind
    value: dict[str, Any]
    topic: str
    partition: int
    offset: int
    raw: bytes  # for its dead letter, if refused


Decoder = Callable[[bytes | None, float], tuple[float, dict[str, Any]]]


def _timed(field: str, raw: bytes | None, latest: float) -> tuple[float, dict[str, Any]]:
    """A JSON object with its event time in `field`, between 1970 and `latest`."""
    try:
        value = orjson.loads(raw)  # type: ignore[arg-type]
        if not isinstance(value, dict):
            raise ValueError("expected a JSON object")
        at = parse_ts(value[field])
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(str(exc)) from exc
    if not 0 <= at <= latest:
        raise ValueError("timestamp in the future" if at > 0 else "timestamp before 1970")
    return at, value


def decode_alert(raw: bytes | None, latest: float) -> tuple[float, dict[str, Any]]:
    """An alert event (`sre.alerts`), timed by its evaluation instant `at`."""
    return _timed("at", raw, latest)


def decode_budget(raw: bytes | None, latest: float) -> tuple[float, dict[str, Any]]:
    """A budget snapshot (`sre.budgets`), timed by `at`."""
    return _timed("at", raw, latest)


def decode_command(raw: bytes | None, latest: float) -> tuple[float, dict[str, Any]]:
    """An operator command (`sre.commands`), timed by `ts`."""
    return _timed("ts", raw, latest)


def decode_deploy(raw: bytes | None, latest: float) -> tuple[float, dict[str, Any]]:
    """A deploy event (`sre.deploys`), timed by `ts`."""
    return _timed("ts", raw, latest)


DECODERS: dict[InputKind, Decoder] = {
    InputKind.ALERT: decode_alert, InputKind.BUDGET: decode_budget,
    InputKind.COMMAND: decode_command, InputKind.DEPLOY: decode_deploy,
}


def input_kinds(topics: Topics) -> dict[str, InputKind]:
    """The kind of each input topic, by name."""
    return {topics.alerts: InputKind.ALERT, topics.commands: InputKind.COMMAND,
            topics.deploys: InputKind.DEPLOY, topics.budgets: InputKind.BUDGET}
