"""The `toil` section of an SLO file: teams and their time, the cap, automation estimates and
runbooks; parsed like every other section, each problem with its path."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from streams.domain.slo.fields import (
    UNSET,
    Problems,
    count,
    duration,
    kind,
    named,
    number,
    show,
    string,
    unique_names,
    unknown_keys,
)
from streams.domain.slo.fields import labels as parse_labels

YEAR = 365 * 86400.0
RunbookMode = Literal["auto", "suggest"]
_TOIL_KEYS = {"cap", "horizon", "interrupt_minutes", "teams", "tasks", "default_build_hours",
              "default_maintain_hours_per_year", "runbooks", "dry_run"}
_MATCH_KEYS = {"slo", "rule", "service", "severity", "labels"}
_METHODS = {"POST", "PUT", "PATCH", "GET"}
_HEADER = re.compile(r"^[A-Za-z0-9-]+$")
_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class Team:
    name: str
    people: float
    hours_per_week: float


@dataclass(frozen=True, slots=True)
class TaskCost:
    """What automating a task would cost: an estimate from the file."""

    name: str  # the task, as written in work events
    build_hours: float
    maintain_hours_per_year: float


@dataclass(frozen=True, slots=True)
class RunbookMatch:
    """Which incidents a runbook is for: every given field must equal the incident's."""

    slo: str | None = None
    rule: str | None = None
    service: str | None = None
    severity: str | None = None
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class WebhookAction:
    url: str
    method: str = "POST"
    headers_env: tuple[tuple[str, str], ...] = ()  # header -> environment variable holding it
    body: Any = None  # JSON; strings may hold {service}, {slo}, {incident}, {rule}, {severity}


@dataclass(frozen=True, slots=True)
class Runbook:
    name: str
    match: RunbookMatch
    action: WebhookAction
    mode: RunbookMode = "suggest"
    max_per_hour: int = 1
    saves_minutes: float = 0.0
    url: str | None = None  # a page describing it, linked from suggestions


@dataclass(frozen=True, slots=True)
class ToilConfig:
    cap: float = 0.5
    horizon: float = 5 * YEAR
    interrupt_minutes: float = 10.0
    teams: dict[str, Team] = field(default_factory=dict)
    tasks: dict[str, TaskCost] = field(default_factory=dict)
    default_build_hours: float = 24.0
    default_maintain_hours_per_year: float = 0.0
    runbooks: tuple[Runbook, ...] = ()
    dry_run: bool = False

    @property
    def configured(self) -> bool:
        return bool(self.teams or self.runbooks)


def parse_toil(value: object, path: str, problems: Problems) -> ToilConfig:
    """The section, or defaults when absent; problems are added, never raised."""
    if value is None or value is UNSET:
        return ToilConfig()
    if not isinstance(value, Mapping):
        problems.add(path, f"must be a mapping with teams, tasks and runbooks, got {kind(value)}")
        return ToilConfig()
    unknown_keys(value, _TOIL_KEYS, path, problems)
    base = ToilConfig()
    cap = _share(value.get("cap", base.cap), f"{path}.cap", problems)
    horizon = duration(value.get("horizon", "5y"), f"{path}.horizon", problems)
    interrupt = _positive(value.get("interrupt_minutes", base.interrupt_minutes),
                          f"{path}.interrupt_minutes", problems, zero=True)
    build = _positive(value.get("default_build_hours", base.default_build_hours),
                      f"{path}.default_build_hours", problems, zero=True)
    maintain = _positive(value.get("default_maintain_hours_per_year", 0),
                         f"{path}.default_maintain_hours_per_year", problems, zero=True)
    dry_run = value.get("dry_run", False)
    if not isinstance(dry_run, bool):
        problems.add(f"{path}.dry_run", f"must be true or false, got {show(dry_run)}")
        dry_run = False
    teams = unique_names(_list(value.get("teams", []), f"{path}.teams", problems),
                         f"{path}.teams", problems, duplicate="duplicate team {name} (also {first})",
                         shape=" with name, people and hours_per_week",
                         parse=lambda raw, where: _team(raw, where, problems))
    tasks = _tasks(_list(value.get("tasks", []), f"{path}.tasks", problems), f"{path}.tasks",
                   problems)
    runbooks = unique_names(_list(value.get("runbooks", []), f"{path}.runbooks", problems),
                            f"{path}.runbooks", problems,
                            duplicate="duplicate runbook {name} (also {first})",
                            shape=" with name, match and action",
                            parse=lambda raw, where: _runbook(raw, where, problems))
    return ToilConfig(
        cap=base.cap if cap is None else cap,
        horizon=base.horizon if horizon is None else horizon,
        interrupt_minutes=base.interrupt_minutes if interrupt is None else interrupt,
        teams=teams, tasks=tasks,
        default_build_hours=base.default_build_hours if build is None else build,
        default_maintain_hours_per_year=0.0 if maintain is None else maintain,
        runbooks=tuple(runbooks.values()), dry_run=dry_run)


def _team(raw: Mapping[Any, Any], path: str, problems: Problems) -> Team | None:
    unknown_keys(raw, {"name", "people", "hours_per_week"}, path, problems)
    name = string(raw.get("name", UNSET), f"{path}.name", problems)
    people = _positive(raw.get("people", UNSET), f"{path}.people", problems)
    hours = _positive(raw.get("hours_per_week", 40), f"{path}.hours_per_week", problems)
    if hours is not None and hours > 168:
        problems.add(f"{path}.hours_per_week", f"must be at most 168 (a week), got {show(hours)}")
        return None
    if name is None or people is None or hours is None:
        return None
    return Team(name, people, hours)


def _tasks(raws: list[Any], path: str, problems: Problems) -> dict[str, TaskCost]:
    tasks: dict[str, TaskCost] = {}
    for index, raw in enumerate(raws):
        where = f"{path}[{index}]"
        if not isinstance(raw, Mapping):
            problems.add(where, f"must be a mapping with task and build_hours, got {kind(raw)}")
            continue
        unknown_keys(raw, {"task", "build_hours", "maintain_hours_per_year"}, where, problems)
        task = string(raw.get("task", UNSET), f"{where}.task", problems)
        build = _positive(raw.get("build_hours", UNSET), f"{where}.build_hours", problems, zero=True)
        maintain = _positive(raw.get("maintain_hours_per_year", 0),
                             f"{where}.maintain_hours_per_year", problems, zero=True)
        if task is None or build is None or maintain is None:
            continue
        if task in tasks:
            problems.add(f"{where}.task", f"duplicate task {show(task)}")
            continue
        tasks[task] = TaskCost(task, build, maintain)
    return tasks


def _runbook(raw: Mapping[Any, Any], path: str, problems: Problems) -> Runbook | None:
    name = named(raw, {"name", "match", "action", "mode", "max_per_hour", "saves_minutes", "url"},
                 path, problems)
    match = _match(raw.get("match", UNSET), f"{path}.match", problems)
    action = _action(raw.get("action", UNSET), f"{path}.action", problems)
    mode = raw.get("mode", "suggest")
    if mode not in ("auto", "suggest"):
        problems.add(f"{path}.mode", f"must be auto or suggest, got {show(mode)}")
        mode = None
    per_hour = count(raw.get("max_per_hour", 1), f"{path}.max_per_hour", problems, minimum=1)
    saves = _positive(raw.get("saves_minutes", 0), f"{path}.saves_minutes", problems, zero=True)
    url = raw.get("url")
    if url is not None and not (isinstance(url, str) and url.strip()):
        problems.add(f"{path}.url", f"must be a non-empty string, got {show(url)}")
        url = None
    if None in (name, match, action, mode, per_hour, saves):
        return None
    assert name is not None and match is not None and action is not None
    return Runbook(name, match, action, mode, int(per_hour or 1), float(saves or 0), url)


def _match(value: object, path: str, problems: Problems) -> RunbookMatch | None:
    if value is UNSET:
        problems.add(path, "is required (slo, rule, service, severity or labels)")
        return None
    if not isinstance(value, Mapping) or not value:
        problems.add(path, f"must be a mapping with slo, rule, service, severity or labels, "
                           f"got {kind(value)}")
        return None
    unknown_keys(value, _MATCH_KEYS, path, problems)
    found: dict[str, str | None] = {}
    for key in ("slo", "rule", "service", "severity"):
        found[key] = string(value[key], f"{path}.{key}", problems) if key in value else None
    labels: tuple[tuple[str, str], ...] = ()
    if "labels" in value:
        labels = parse_labels(value["labels"], f"{path}.labels", problems)
    return RunbookMatch(labels=labels, **found)


def _action(value: object, path: str, problems: Problems) -> WebhookAction | None:
    if value is UNSET:
        problems.add(path, "is required: {webhook: {url, method, headers_env, body}}")
        return None
    if not isinstance(value, Mapping) or set(value) != {"webhook"}:
        problems.add(path, f"must be a mapping with one key, webhook, got {kind(value)}")
        return None
    hook = value["webhook"]
    where = f"{path}.webhook"
    if not isinstance(hook, Mapping):
        problems.add(where, f"must be a mapping with url, got {kind(hook)}")
        return None
    unknown_keys(hook, {"url", "method", "headers_env", "body"}, where, problems)
    url = string(hook.get("url", UNSET), f"{where}.url", problems)
    if url is not None and not url.startswith(("http://", "https://")):
        problems.add(f"{where}.url", f"must be an http:// or https:// address, got {show(url)}")
        url = None
    method = hook.get("method", "POST")
    if method not in _METHODS:
        problems.add(f"{where}.method", f"must be one of {', '.join(sorted(_METHODS))}, "
                                        f"got {show(method)}")
        method = None
    headers: list[tuple[str, str]] = []
    raw_headers = hook.get("headers_env", {})
    if not isinstance(raw_headers, Mapping):
        problems.add(f"{where}.headers_env",
                     f"must be a mapping of header to environment variable, got {kind(raw_headers)}")
    else:
        for header, env in raw_headers.items():
            if not isinstance(header, str) or not _HEADER.match(header):
                problems.add(f"{where}.headers_env", f"bad header name {show(header)}")
            elif not isinstance(env, str) or not _ENV.match(env):
                problems.add(f"{where}.headers_env.{header}",
                             f"must name an environment variable, got {show(env)}")
            else:
                headers.append((header, env))
    if url is None or method is None:
        return None
    return WebhookAction(url, str(method), tuple(headers), hook.get("body"))


def _list(value: object, path: str, problems: Problems) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        problems.add(path, f"must be a list, got {kind(value)}")
        return []
    return value


def _share(value: object, path: str, problems: Problems) -> float | None:
    share = number(value, path, problems)
    if share is not None and not 0 < share <= 1:
        problems.add(path, f"must be a share in (0, 1] such as 0.5, got {show(value)}")
        return None
    return share


def _positive(value: object, path: str, problems: Problems, *, zero: bool = False) -> float | None:
    amount = number(value, path, problems)
    if amount is not None and (amount < 0 or (amount == 0 and not zero)):
        problems.add(path, f"must be {'at least 0' if zero else 'above 0'}, got {show(value)}")
        return None
    return amount
