"""The checks every section of an SLO file shares: values with their path, every problem kept.

Each check takes the value read from the file, its path (`slos[2].window`) and the `Problems`
collected so far; it returns the parsed value, or None after adding a `path: message` line.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

from streams.domain.durations import DurationError, parse_duration

UNSET: Any = object()  # a key absent from the file (None is YAML's null)
NAME = re.compile(r"^[a-z0-9-]+$")


class Problems:
    """Every problem of a file, one `path: message` line each."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.lines.append(f"{path}: {message}" if path else message)


def labels(value: object, path: str, problems: Problems) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((key, str(item))
                        for key, item in scalars(value, path, problems, "label", "a string")))


def scalars(value: object, path: str, problems: Problems, key_kind: str,
             value_kind: str) -> list[tuple[str, str | int | float | bool]]:
    """The entries of a mapping of names to scalar values (match filters, labels)."""
    if not isinstance(value, Mapping):
        problems.add(path, f"must be a mapping of {key_kind} to value, got {kind(value)}")
        return []
    pairs: list[tuple[str, str | int | float | bool]] = []
    for key, item in value.items():
        if not isinstance(item, str | int | float | bool):
            problems.add(f"{path}.{key}", f"must be {value_kind}, got {kind(item)}")
            continue
        pairs.append((str(key), item))
    return pairs


def duration(value: object, path: str, problems: Problems) -> float | None:
    if missing(value, path, problems, " (a duration such as 5m, 1h or 30d)"):
        return None
    try:
        return parse_duration(value)  # type: ignore[arg-type]
    except (DurationError, TypeError, OverflowError):
        problems.add(path, f"must be a duration such as 5m, 1h or 30d, got {show(value)}")
        return None


def string(value: object, path: str, problems: Problems) -> str | None:
    if missing(value, path, problems):
        return None
    if not isinstance(value, str) or not value.strip():
        problems.add(path, f"must be a non-empty string, got {show(value)}")
        return None
    return value


def number(value: object, path: str, problems: Problems) -> float | None:
    if missing(value, path, problems):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not math.isfinite(number := to_float(value)):
        problems.add(path, f"must be a finite number, got {show(value)}")
        return None
    return number


def to_float(value: int | float) -> float:
    """A YAML number as a float; integers beyond the float range are infinite."""
    try:
        return float(value)
    except OverflowError:
        return math.inf


def count(value: object, path: str, problems: Problems, *, minimum: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        problems.add(path, f"must be an integer, got {show(value)}")
        return None
    if value < minimum:
        problems.add(path, f"must be >= {minimum}, got {show(value)}")
        return None
    return value


def missing(value: object, path: str, problems: Problems, hint: str = "") -> bool:
    """Whether a required value is absent (then it is a problem: `is required` and the hint)."""
    if value is UNSET:
        problems.add(path, f"is required{hint}")
        return True
    return False


class Named(Protocol):
    @property
    def name(self) -> str: ...


N = TypeVar("N", bound=Named)


def unique_names(raws: list[Any], path: str, problems: Problems, *, duplicate: str,
                  parse: Callable[[Mapping[Any, Any], str], N | None],
                  shape: str = "") -> dict[str, N]:
    """The mappings of a list parsed one by one, by name; a name taken before is a problem.

    `duplicate` is the problem's text, with `{name}` and `{first}` (where the name was taken);
    `shape` says what a mapping holds, for an entry that is not one.
    """
    entries: dict[str, N] = {}
    first: dict[str, int] = {}
    for index, raw in enumerate(raws):
        where = f"{path}[{index}]"
        if not isinstance(raw, Mapping):
            problems.add(where, f"must be a mapping{shape}, got {kind(raw)}")
            continue
        entry = parse(raw, where)
        if entry is None:
            continue
        if entry.name in entries:
            problems.add(f"{where}.name", duplicate.format(
                name=show(entry.name), first=f"{path}[{first[entry.name]}]"))
            continue
        entries[entry.name] = entry
        first[entry.name] = index
    return entries


def named(raw: Mapping[Any, Any], allowed: set[str], path: str, problems: Problems) -> str | None:
    """The `name` of an entry with only `allowed` keys (an SLO, a rule)."""
    unknown_keys(raw, allowed, path, problems)
    name = string(raw.get("name", UNSET), f"{path}.name", problems)
    if name is not None and not NAME.match(name):
        problems.add(f"{path}.name", f"must match [a-z0-9-]+, got {show(name)}")
        return None
    return name


def unknown_keys(mapping: Mapping[Any, Any], allowed: set[str], path: str,
                  problems: Problems) -> None:
    for key in mapping:
        if key not in allowed:
            where = f"{path}.{key}" if path else str(key)
            problems.add(where, f"unknown key (allowed: {', '.join(sorted(allowed))})")


def kind(value: object) -> str:
    if value is UNSET:
        return "nothing"
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return show(value)


def show(value: object, limit: int = 80) -> str:
    """A value as quoted in a problem line, cut short: one line whatever the file holds."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"
