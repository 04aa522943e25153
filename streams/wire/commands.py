"""Operator inputs: `sre.commands` (ack, resolve, assign, note, silence) and `sre.deploys`."""

from __future__ import annotations

import msgspec
from msgspec import UNSET, UnsetType

from streams.wire.codec import decode
from streams.wire.envelope import InputTime, ServiceEvent


class Command(msgspec.Struct, frozen=True, kw_only=True):
    """An operator's command; which optional fields it needs depends on `command`."""

    command: str  # ack, resolve, assign, note or silence: the book says which it refuses
    by: str
    ts: InputTime
    incident: str | UnsetType = UNSET
    text: str | UnsetType = UNSET
    assignee: str | UnsetType = UNSET
    # silence: labels an alert must carry; any scalar here, so the book names what is wrong
    match: dict[str, str | int | float | bool | None] | UnsetType = UNSET
    starts: InputTime | UnsetType = msgspec.field(default=UNSET, name="from")
    until: InputTime | UnsetType = UNSET
    comment: str | UnsetType | None = UNSET  # (null from earlier command-line clients)


class Deploy(ServiceEvent, frozen=True, kw_only=True):
    """A deploy of a service: noted on its open incidents, checked against its budget policy."""

    version: str | UnsetType = UNSET
    change_class: str | UnsetType = UNSET
    by: str | UnsetType = UNSET


def decode_command(data: bytes | str) -> Command:
    return decode(data, Command, "command")


def decode_deploy(data: bytes | str) -> Deploy:
    return decode(data, Deploy, "deploy")
