"""Capacity from an events file: request, count and resource events into the demand history,
then a forecast and runway per planned service, as `sre-streams capacity` reports them."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from streams.domain.capacity.history import HOUR, DemandMeter
from streams.domain.capacity.model import CapacityPlan
from streams.domain.capacity.runway import Assessment, assess, ranked
from streams.domain.slo.model import SloFile
from streams.domain.timestamps import TimestampError, parse_ts
from streams.offline.decoding import decode_batch
from streams.offline.jsonl import EventFile
from streams.wire.capacity import resource_event
from streams.wire.codec import WireError
from streams.wire.requests import CountEvent, request_event

_REPORTED_BAD_LINES = 10


@dataclass
class CapacityRun:
    at: float
    assessments: list[Assessment]
    lines: int = 0
    events: int = 0
    after_at: int = 0  # events at or after `at`, not used
    late: int = 0
    bad_lines: Counter[str] = field(default_factory=Counter)


def meter_for(slo_file: SloFile) -> DemandMeter:
    """A demand meter for every plan of the file."""
    plans = slo_file.capacity
    return DemandMeter([p.key for p in plans], {p.key: history_hours(p) for p in plans},
                       {slo.name: slo.service for slo in slo_file.slos})


def history_hours(plan: CapacityPlan) -> int:
    """Hours of history kept: the horizon, and never less than 90 days."""
    return int(max(plan.horizon, 90 * 86400.0) // HOUR)


def feed(meter: DemandMeter, event: Any, slos: set[str]) -> float:
    """One decoded JSON value into the meter; returns its time. Raises WireError or
    TimestampError with the reason for a bad one."""
    if isinstance(event, dict) and "resource" in event and "slo" not in event:
        resource = resource_event(event)
        ts = parse_ts(resource.ts)
        capacity = resource.capacity if isinstance(resource.capacity, float) else None
        meter.resource(ts, resource.service, resource.resource, resource.used, capacity)
        return ts
    typed = request_event(event)
    ts = parse_ts(typed.ts)
    if isinstance(typed, CountEvent):
        if typed.slo not in slos:
            raise WireError(f"unknown SLO {typed.slo!r}")
        meter.count(ts, typed.slo, float(typed.total))
    else:
        meter.request(ts, typed.service)
    return ts


def run_capacity(slo_file: SloFile, path: str | Path, *, at: float | None, lateness: float,
                 stderr: TextIO) -> CapacityRun:
    """Read every event of the file; forecast as of `at` (default: the last event's time,
    rounded up to the hour)."""
    meter = meter_for(slo_file)
    slos = {slo.name for slo in slo_file.slos}
    run = CapacityRun(0.0, [])
    latest = -math.inf
    source = str(path)
    with EventFile(path) as events:
        for first, lines in events.blocks():
            run.lines = first + len(lines) - 1
            block = decode_batch(lines, skip_blank=True)
            bad = [(first + i, refusal.reason) for i, refusal in block.refusals.items()]
            for index, event in enumerate(block.events):
                try:
                    if at is not None and _ts_of(event) >= at:
                        run.after_at += 1
                        continue
                    ts = feed(meter, event, slos)
                except WireError as exc:
                    bad.append((first + block.message_of(index), str(exc)))
                    continue
                except TimestampError as exc:
                    bad.append((first + block.message_of(index), f"invalid ts: {exc}"))
                    continue
                run.events += 1
                latest = max(latest, ts)
            for number, reason in sorted(bad):
                run.bad_lines[reason] += 1
                if sum(run.bad_lines.values()) <= _REPORTED_BAD_LINES:
                    print(f"{source}:{number}: {reason}", file=stderr)
            if math.isfinite(latest):
                meter.close(latest - lateness)
    if at is None:
        at = math.ceil(latest / HOUR) * HOUR if math.isfinite(latest) else 0.0
    meter.close(at)
    run.at = at
    run.late = meter.late
    run.assessments = ranked([assess(plan, meter.history[plan.key], at, meter.capacity.get(plan.key))
                              for plan in slo_file.capacity])
    return run


def _ts_of(event: Any) -> float:
    """The time of an event, to leave out those past `--at` (a bad one is refused later)."""
    try:
        return parse_ts(event.get("ts")) if isinstance(event, dict) else -math.inf
    except TimestampError:
        return -math.inf
