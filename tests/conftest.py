"""Test material shared across the test folders: the wire schemas and the tuner's scenarios.

The schemas in `schemas/` load offline, named by topic (`sre.alerts`), shape (`alert`) or file
name (`alert.schema.json`): `load_validator("sre.alerts").validate(alert)`,
`assert_valid("budget", snapshot)`.

The alert tuner's traffic scenarios, used by its unit tests and its command-line tests, are
count events every 10 s, 1,000 requests each, so every window's bad/total ratio is known exactly.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from streams.tune.incidents import LabelledIncident

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


HOUR, DAY = 3600, 86400
EVAL = 10
PER_10S = 1000
START = 25920 * 68000  # 2025-11-08T00:00:00Z, on every bucket grid of every window used here

# The SLO file of the blip scenario: one SLO on the built-in multiwindow policy.
BLIPS_SLO_FILE = """
apiVersion: sre-streams/v1
slos:
  - name: api
    service: api
    objective: 0.99
    sli: {availability: {}}
"""

# For other periods: a policy of its own that fits a 1-day period, so that the built-in
# policy (whose 3-day window does not) is not a candidate and the Workbook's names stay free.
PERIOD_SLO_FILE = """
apiVersion: sre-streams/v1
defaults: {window: %(window)s, alerting: fast}
alerting:
  fast:
    - {name: page, severity: page, long: 1h, short: 5m, budget_percent: 20}
slos:
  - name: api
    service: api
    objective: %(objective)s
    sli: {availability: {}}
"""


def count_events(start: int, end: int, bad: Callable[[int], int]) -> Iterator[dict[str, object]]:
    """One count event per 10 s in (start, end], each covering the 10 s before its ts."""
    for ts in range(start + EVAL, end + 1, EVAL):
        yield {"ts": ts, "slo": "api", "good": PER_10S - bad(ts), "total": PER_10S}


def blips_and_outage(days: int = 3, outage_at: int = 50 * HOUR, outage: int = HOUR) -> tuple[
        list[dict[str, object]], LabelledIncident]:
    """Hourly 30-second blips of 50% errors, 0.1% errors otherwise, and one total outage.

    For a 99% SLO the blips burn 0.42× on any window of an hour or more (budget they can
    afford), but 2.5× on a 10-minute window: the noise the target-error-rate strategy pages on.
    """
    first, last = START + outage_at, START + outage_at + outage

    def bad(ts: int) -> int:
        if first < ts <= last:
            return PER_10S
        blip = 20 * 60 < (ts - START) % HOUR <= 20 * 60 + 30
        return PER_10S // 1000 + (PER_10S // 2 if blip else 0)

    events = list(count_events(START, START + days * DAY, bad))
    return events, LabelledIncident("api", first, last, title="total outage", line=1)


def clean_outage(period: int) -> tuple[list[dict[str, object]], LabelledIncident]:
    """Error-free traffic, then a 3-hour total outage: the Workbook's detection-time setting."""
    first = START + period // 4  # longer than every window the catalog scales to the period
    last = first + 3 * HOUR
    events = list(count_events(START, last + HOUR, lambda ts: PER_10S if first < ts <= last else 0))
    return events, LabelledIncident("api", first, last, line=1)


def write_events(path: Path, events: list[dict[str, object]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(event) + b"\n" for event in events))
    return path


# --- programs from the system's packages ------------------------------------------------------

_PACKAGES = {
    # what to look for: (environment flag CI sets so the test may not skip, Debian package)
    "chromium": ("SRE_REQUIRE_CHROMIUM", "chromium"),
    "prometheus": ("SRE_REQUIRE_PROMETHEUS", "prometheus"),
    "promtool": ("SRE_REQUIRE_PROMETHEUS", "prometheus"),
    "prometheus-alertmanager": ("SRE_REQUIRE_ALERTMANAGER", "prometheus-alertmanager"),
    "amtool": ("SRE_REQUIRE_ALERTMANAGER", "prometheus-alertmanager"),
}
_ALIASES = {"chromium": ("chromium", "chromium-browser", "google-chrome"),
            "prometheus-alertmanager": ("prometheus-alertmanager", "alertmanager")}


def system_binary(name: str, why: str) -> str:
    """The path of a program the test runs for real, or a skip saying how to install it.

    `.ci/run` installs the Debian packages and sets the package's SRE_REQUIRE_* flag, so in CI a
    missing program fails the test instead of skipping it.
    """
    import os
    import shutil

    import pytest

    for candidate in _ALIASES.get(name, (name,)):
        found = shutil.which(candidate)
        if found:
            return found
    flag, package = _PACKAGES[name]
    message = f"{why}, and `{name}` is not installed: install it with `apt-get install -y {package}`"
    if os.environ.get(flag) == "1":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def compiled_decoder() -> None:
    """Skip a test of the compiled decoder where the package was built without it (no C
    compiler); `.ci/run` sets SRE_REQUIRE_COMPILED, so in CI that fails instead."""
    import os

    import pytest

    from streams.offline import columnar

    if columnar._columns is None:
        message = ("the compiled decoder (streams/offline/_columns.c) is not built: install a C "
                   "compiler and the Python headers, then `pip install -e .` again")
        if os.environ.get("SRE_REQUIRE_COMPILED") == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
