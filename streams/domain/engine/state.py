"""The engine's checkpoint state as JSON-able data: where evaluation stands, and each series.

Saving and loading are side by side so the format has one definition; the runtime decides
where the records go.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from streams.domain.engine.clock import EventClock
from streams.domain.engine.counters import SeriesCounters
from streams.domain.engine.series import Series, SeriesRegistry
from streams.domain.stored import StoredState


def encode_clock(clock: EventClock) -> StoredState:
    """The checkpoint's meta part: where evaluation stands."""
    return {
        "instant": clock.instant,
        "next": clock.next,
        "max_ts": None if clock.max_ts == -math.inf else clock.max_ts,
        "min_ts": None if clock.min_ts == math.inf else clock.min_ts,
    }


def restore_clock(clock: EventClock, meta: StoredState) -> None:
    """Set `clock` to what `encode_clock` saved."""
    instant, following = meta["instant"], meta["next"]
    clock.instant = None if instant is None else int(instant)
    clock.next = None if following is None else int(following)
    clock.max_ts = -math.inf if meta["max_ts"] is None else float(meta["max_ts"])
    clock.min_ts = math.inf if meta["min_ts"] is None else float(meta["min_ts"])


def encode_series(series: Series) -> StoredState:
    """One series as JSON-able data (see `restore_series`)."""
    state: StoredState = {
        "slo": series.runtime.slo.name,
        "key": list(series.key),
        "plan": series.runtime.plan.fingerprint,
        "started": list(series.started),
        "burning": list(series.burning),
        "clear": list(series.clear),
        "counters": series.counters.export(),
    }
    if any(at is not None for at in series.pending):
        state["pending"] = list(series.pending)
    return state


def restore_series(registry: SeriesRegistry, states: Sequence[StoredState],
                   instant: int | None) -> list[str]:
    """Register the saved series in `registry`; returns warnings for what was dropped.

    A series saved before its last checkpoint but not changed since is brought forward
    to the saved instant exactly as evaluation moved it (nothing fired or resolved in
    between, or it would have been saved again).
    """
    warnings: list[str] = []
    by_name = registry.by_name()
    for state in states:
        runtime = by_name.get(str(state["slo"]))
        if runtime is None:
            warnings.append(f"SLO {state['slo']} is no longer defined: its saved series dropped")
            continue
        if state["plan"] != runtime.plan.fingerprint or len(state["started"]) != len(runtime.rules):
            warnings.append(f"SLO {state['slo']}: windows or rules changed, saved series "
                            f"{state['key']} starts afresh")
            continue
        series = Series(runtime, tuple(str(part) for part in state["key"]),
                        SeriesCounters.restore(runtime.plan, state["counters"]))
        series.started = _times(state["started"])
        series.burning = _times(state.get("burning") or series.burning)
        series.clear = _times(state.get("clear") or series.clear)
        series.pending = _times(state.get("pending") or series.pending)
        if instant is not None:
            series.counters.replay_to(instant)
        registry.add(series)
    return warnings


def _times(values: Sequence[object]) -> list[float | None]:
    return [None if v is None else float(v) for v in values]  # type: ignore[arg-type]
