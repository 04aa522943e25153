"""Encoding and decoding of topic messages: bytes at the edge, typed structs inside."""

from __future__ import annotations

from typing import TypeVar

import msgspec
import orjson

M = TypeVar("M", bound=msgspec.Struct)


class WireError(ValueError):
    """A message that is not valid JSON or not of its topic's shape; says where and why."""


def encode(message: msgspec.Struct) -> bytes:
    """The message's JSON bytes, exactly as the dict-built messages were written."""
    # orjson writes large exponents as `1e+16`, msgspec as `1e16` (about half of random doubles
    # differ): going through builtins keeps published bytes identical to earlier releases.
    return orjson.dumps(msgspec.to_builtins(message))


def decode(data: bytes | str, kind: type[M], what: str) -> M:
    """Decode one message of a topic's type; WireError names the field at fault."""
    try:
        return msgspec.json.decode(data, type=kind)
    except msgspec.ValidationError as exc:
        raise WireError(f"invalid {what}: {exc}") from None
    except msgspec.DecodeError as exc:
        raise WireError(f"invalid {what}: not JSON ({exc})") from None


def convert(value: object, kind: type[M], what: str) -> M:
    """The typed message of an already parsed JSON value (a stored record, a test's literal)."""
    try:
        return msgspec.convert(value, type=kind)
    except msgspec.ValidationError as exc:
        raise WireError(f"invalid {what}: {exc}") from None


def record(message: msgspec.Struct) -> dict[str, object]:
    """The message as a JSON object of plain values, keys in wire order."""
    value = msgspec.to_builtins(message)
    assert isinstance(value, dict)
    return value


def builtins(message: msgspec.Struct) -> object:
    """The message as plain JSON values (dicts in field order), for stores that take those."""
    return msgspec.to_builtins(message)
