"""Load the wire schemas in `schemas/` for tests, offline.

A schema is named by topic (`sre.alerts`), shape (`alert`) or file name (`alert.schema.json`):
`load_validator("sre.alerts").validate(alert)`, `assert_valid("budget", snapshot)`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"
SCHEMA_SUFFIX = ".schema.json"
ID_PREFIX = "https://sre-streams.dev/schemas/"


def schema_path(name: str) -> Path:
    """Path of a schema given as file name (`alert.schema.json`) or stem (`alert`, `sre.alerts`)."""
    file_name = name if name.endswith(".json") else name + SCHEMA_SUFFIX
    path = SCHEMA_DIR / file_name
    if not path.is_file():
        known = ", ".join(p.name for p in schema_files())
        raise FileNotFoundError(f"no schema {file_name!r} in {SCHEMA_DIR} (have: {known})")
    return path


def schema_files() -> list[Path]:
    return sorted(SCHEMA_DIR.glob("*" + SCHEMA_SUFFIX))


def load_schema(name: str) -> dict[str, Any]:
    """The parsed schema (shared, do not mutate)."""
    return _load_file(schema_path(name).name)


@cache
def _load_file(file_name: str) -> dict[str, Any]:
    contents: dict[str, Any] = json.loads((SCHEMA_DIR / file_name).read_text(encoding="utf-8"))
    return contents


@cache
def load_registry() -> Registry[Any]:
    """Every schema in the folder, keyed by its `$id`. No `retrieve`: nothing is fetched."""
    resources = [
        (
            load_schema(path.name)["$id"],
            Resource.from_contents(load_schema(path.name), default_specification=DRAFT202012),
        )
        for path in schema_files()
    ]
    return Registry().with_resources(resources).crawl()


def load_validator(name: str) -> Draft202012Validator:
    """A validator for one schema (topic, shape or file name), with `$ref`s resolved offline."""
    return _validator(schema_path(name).name)


@cache
def _validator(file_name: str) -> Draft202012Validator:
    return Draft202012Validator(_load_file(file_name), registry=load_registry())


def schema_errors(name: str, instance: object) -> list[str]:
    """Readable errors, one per violation, each prefixed with its JSON path.

    For a `oneOf`/`anyOf` failure the reasons of each alternative follow, indented.
    """
    lines: list[str] = []

    def add(errors: Iterable[ValidationError], depth: int) -> None:
        for error in sorted(errors, key=lambda e: (list(e.path), e.message)):
            lines.append(f"{'    ' * depth}{error.json_path}: {error.message}")
            if error.context:
                add(error.context, depth + 1)

    add(load_validator(name).iter_errors(instance), 0)
    return lines


def assert_valid(name: str, instance: object) -> None:
    """Fail with every violation listed (not only the first) when `instance` does not match."""
    errors = schema_errors(name, instance)
    if errors:
        listing = "\n  ".join(errors)
        raise AssertionError(f"not a valid {name} message:\n  {listing}\ninstance: {instance!r}")
