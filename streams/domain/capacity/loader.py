"""Parse and validate the `capacity` section of an SLO file, every problem with its path.

Called by the SLO file loader (`streams.domain.slo.loader`), whose problem list and value
readers (`streams.domain.slo.fields`) it shares, so its problems read like the rest of the file's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streams.domain.capacity.model import (
    DEFAULT_HORIZON,
    DEFAULT_REDUNDANCY,
    DEMAND_UNIT,
    CapacityPlan,
    Launch,
)
from streams.domain.durations import format_duration
from streams.domain.slo.fields import UNSET as _UNSET
from streams.domain.slo.fields import Problems as _Problems
from streams.domain.slo.fields import count as _count
from streams.domain.slo.fields import duration as _duration
from streams.domain.slo.fields import kind as _kind
from streams.domain.slo.fields import number as _number
from streams.domain.slo.fields import show as _show
from streams.domain.slo.fields import string as _string
from streams.domain.slo.fields import unique_names as _unique_names
from streams.domain.slo.fields import unknown_keys as _unknown_keys
from streams.domain.timestamps import TimestampError, parse_ts

_COMMON_KEYS = {"service", "lead_time", "horizon", "launches", "unit"}
_DEMAND_KEYS = _COMMON_KEYS | {"per_instance", "instances", "redundancy"}
_RESOURCE_KEYS = _COMMON_KEYS | {"resource", "capacity"}
_LAUNCH_KEYS = {"name", "at", "factor"}
MAX_HORIZON = 366 * 86400.0  # a year of hourly points is the most a forecast reaches


def parse_capacity(value: object, path: str, problems: _Problems) -> tuple[CapacityPlan, ...]:
    """The `capacity` list; an entry with problems is left out (the problems say why)."""
    if value is None:
        return ()
    if not isinstance(value, list):
        problems.add(path, f"must be a list of services or resources, got {_kind(value)}")
        return ()
    plans: list[CapacityPlan] = []
    first: dict[tuple[str, str | None], int] = {}
    for index, raw in enumerate(value):
        where = f"{path}[{index}]"
        if not isinstance(raw, Mapping):
            problems.add(where, f"must be a mapping with service and lead_time, got {_kind(raw)}")
            continue
        plan = _plan(raw, where, problems)
        if plan is None:
            continue
        if plan.key in first:
            what = f"resource {_show(plan.resource)} of " if plan.resource else ""
            problems.add(f"{where}.service", f"duplicate entry for {what}service "
                                             f"{_show(plan.service)} (also {path}[{first[plan.key]}])")
            continue
        first[plan.key] = index
        plans.append(plan)
    return tuple(plans)


def _plan(raw: Mapping[Any, Any], path: str, problems: _Problems) -> CapacityPlan | None:
    before = len(problems.lines)
    is_resource = "resource" in raw
    _unknown_keys(raw, _RESOURCE_KEYS if is_resource else _DEMAND_KEYS, path, problems)
    service = _string(raw.get("service", _UNSET), f"{path}.service", problems)
    lead_time = _duration(raw.get("lead_time", _UNSET), f"{path}.lead_time", problems)
    horizon = _duration(raw.get("horizon", DEFAULT_HORIZON), f"{path}.horizon", problems)
    if horizon is not None and horizon > MAX_HORIZON:
        problems.add(f"{path}.horizon", f"must be at most {format_duration(MAX_HORIZON)}, "
                                        f"got {format_duration(horizon)}")
    if horizon is not None and lead_time is not None and horizon < lead_time:
        problems.add(f"{path}.horizon", f"must reach at least the lead time "
                                        f"({format_duration(lead_time)}), got {format_duration(horizon)}")
    launches = _launches(raw.get("launches", []), f"{path}.launches", problems)
    if is_resource:
        resource = _string(raw["resource"], f"{path}.resource", problems)
        unit = None
        if "unit" in raw:
            unit = _string(raw["unit"], f"{path}.unit", problems)
        capacity = None
        if "capacity" in raw:
            capacity = _positive(raw["capacity"], f"{path}.capacity", problems)
        if len(problems.lines) > before:
            return None
        assert service is not None and lead_time is not None and horizon is not None
        return CapacityPlan(service, lead_time, horizon, resource=resource, unit=unit,
                            capacity=capacity, launches=launches)
    if raw.get("unit", DEMAND_UNIT) != DEMAND_UNIT:
        problems.add(f"{path}.unit", f"demand is measured in {DEMAND_UNIT} (for another "
                                     f"quantity, name a resource), got {_show(raw['unit'])}")
    per_instance = _positive(raw.get("per_instance", _UNSET), f"{path}.per_instance", problems)
    instances = None
    if "instances" in raw:
        instances = _count(raw["instances"], f"{path}.instances", problems, minimum=1)
    else:
        problems.add(f"{path}.instances", "is required")
    redundancy = _count(raw.get("redundancy", DEFAULT_REDUNDANCY), f"{path}.redundancy",
                        problems, minimum=0)
    if instances is not None and redundancy is not None and instances <= redundancy:
        problems.add(f"{path}.instances", f"must exceed redundancy ({redundancy}): nothing "
                                          f"would be usable, got {instances}")
    if len(problems.lines) > before:
        return None
    assert service is not None and lead_time is not None and horizon is not None
    assert per_instance is not None and instances is not None and redundancy is not None
    return CapacityPlan(service, lead_time, horizon, per_instance=per_instance,
                        instances=instances, redundancy=redundancy, launches=launches)


def _launches(value: object, path: str, problems: _Problems) -> tuple[Launch, ...]:
    if not isinstance(value, list):
        problems.add(path, f"must be a list of {{name, at, factor}}, got {_kind(value)}")
        return ()

    def launch(raw: Mapping[Any, Any], where: str) -> Launch | None:
        _unknown_keys(raw, _LAUNCH_KEYS, where, problems)
        name = _string(raw.get("name", _UNSET), f"{where}.name", problems)
        at = _time(raw.get("at", _UNSET), f"{where}.at", problems)
        factor = _positive(raw.get("factor", _UNSET), f"{where}.factor", problems)
        if name is None or at is None or factor is None:
            return None
        return Launch(name, at, factor)

    launches = _unique_names(value, path, problems, duplicate="duplicate launch {name} (also "
                             "{first})", parse=launch, shape=" with name, at and factor")
    return tuple(sorted(launches.values(), key=lambda launch: launch.at))


def _time(value: object, path: str, problems: _Problems) -> float | None:
    if value is _UNSET:
        problems.add(path, "is required (an RFC 3339 time such as 2026-12-10T00:00:00Z)")
        return None
    try:
        return parse_ts(value)
    except TimestampError as exc:
        problems.add(path, f"must be an RFC 3339 time or epoch seconds: {exc}")
        return None


def _positive(value: object, path: str, problems: _Problems) -> float | None:
    number = _number(value, path, problems)
    if number is not None and number <= 0:
        problems.add(path, f"must be > 0, got {_show(value)}")
        return None
    return number

