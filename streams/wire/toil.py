"""`sre.toil`: one piece of work a team did (typed in, derived from incidents, or automated)."""

from __future__ import annotations

from typing import Literal

import msgspec
from msgspec import UNSET, UnsetType

from streams.domain.timestamps import parse_ts
from streams.wire.codec import WireError, decode
from streams.wire.envelope import Envelope, InputTime

WorkKind = Literal["toil", "project", "overhead", "automated"]
WorkSource = Literal["ticket", "page", "request", "manual", "incident", "runbook"]
MAX_MINUTES = 7 * 24 * 60  # one entry is at most a week of one person's time


class WorkEvent(msgspec.Struct, frozen=True, kw_only=True):
    """`minutes` of `kind` work on `task` by `by` for `team`, ending at `ts`.

    `automated` is work a runbook did instead of a person: its minutes are the time saved.
    """

    ts: InputTime
    team: str
    by: str
    task: str
    minutes: float
    kind: WorkKind
    source: WorkSource | UnsetType = UNSET
    ref: str | UnsetType = UNSET  # a ticket, an incident id
    outcome: Literal["succeeded", "failed", "dry-run"] | UnsetType = UNSET  # automated work


def decode_work(data: bytes | str) -> WorkEvent:
    """One `sre.toil` message, checked beyond its shape: a real time, positive bounded minutes."""
    event = decode(data, WorkEvent, "work event")
    return checked(event)


def checked(event: WorkEvent) -> WorkEvent:
    for name in ("team", "by", "task"):
        if not getattr(event, name).strip():
            raise WireError(f"invalid work event: {name} must not be empty")
    if not 0 <= event.minutes <= MAX_MINUTES or event.minutes != event.minutes:
        raise WireError(f"invalid work event: minutes must be in [0, {MAX_MINUTES}], "
                        f"got {event.minutes!r}")
    try:
        parse_ts(event.ts)
    except (ValueError, TypeError, OverflowError) as exc:
        raise WireError(f"invalid work event: bad ts ({exc})") from None
    return event


# --- the report (`sre-streams toil report --json`, `GET /v1/toil`) -----------------------------


class TopTask(msgspec.Struct, frozen=True, kw_only=True):
    task: str
    minutes: float
    occurrences: int


class TeamToil(msgspec.Struct, frozen=True, kw_only=True):
    """One team's work over the window, against its working time."""

    team: str
    capacity_hours: float | None  # None: a team the toil section does not list
    toil_hours: float
    project_hours: float
    overhead_hours: float
    automated_hours_saved: float
    toil_share: float | None
    over_cap: bool
    trend_hours_per_week: float
    toil_per_million_requests: float | None
    top_tasks: list[TopTask]
    configured: bool


class Candidate(msgspec.Struct, frozen=True, kw_only=True):
    """A repetitive toil task, and what automating it would save over the horizon."""

    task: str
    team: str
    occurrences: int
    minutes_per_year: float
    hours_saved_over_horizon: float
    build_hours: float
    maintain_hours_per_year: float
    net_hours: float
    payback_months: float | None  # None: the saving never exceeds the maintenance
    estimated: bool


class RunbookRuns(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    runs: int
    succeeded: int
    failed: int
    minutes_saved: float


class ToilReport(Envelope, frozen=True, kw_only=True, tag="toil-report"):
    """Toil per team, automation candidates and runbook runs over (`from`, `to`]."""

    start: str = msgspec.field(name="from")
    end: str = msgspec.field(name="to")
    cap: float
    teams: list[TeamToil]
    candidates: list[Candidate]
    runbooks: list[RunbookRuns]
