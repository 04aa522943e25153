"""Checkpoints: an engine restored from its saved series and meta continues exactly."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.domain.engine.evaluation import Engine, EngineSettings
from streams.domain.slo.model import Slo, SloFile
from tests.unit.domain.engine.conftest import E, slos, streams_of_events

Store = dict[tuple[str, tuple[str, ...]], bytes]


def checkpoint(engine: Engine, store: Store) -> bytes:
    """Save what changed into `store` (as the worker writes its table); return the meta."""
    for series in engine.take_dirty():
        store[(series.slo.name, series.key)] = orjson.dumps(Engine.series_state(series))
    return orjson.dumps(engine.checkpoint_meta())


def restored(slo_file: SloFile, engine_settings: EngineSettings, store: Store, meta: bytes) -> Engine:
    engine = Engine(slo_file, engine_settings)
    warnings = engine.restore(orjson.loads(meta), [orjson.loads(v) for v in store.values()])
    assert warnings == []
    return engine


def feed(engine: Engine, events: list[dict[str, object]], batch: bool) -> None:
    if batch:
        engine.ingest_batch(events)
    else:
        for event in events:
            engine.ingest(event)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(slo=slos(), events=streams_of_events(), data=st.data())
def test_restart_from_any_checkpoint_gives_the_uninterrupted_output(
    slo: Slo, events: list[dict[str, object]], data: st.DataObject,
) -> None:
    slo_file = SloFile((slo,))
    engine_settings = EngineSettings(eval_interval=E, lateness=data.draw(st.sampled_from([0.0, 5.0, 30.0])),
                                     budget_interval=60.0)
    n = len(events)
    cuts = sorted(set(data.draw(st.lists(st.integers(0, n), min_size=1, max_size=4))))
    crash = data.draw(st.integers(cuts[-1], n))  # events processed after the last checkpoint
    batch = data.draw(st.booleans())
    idle_at = data.draw(st.none() | st.floats(0, 3600))

    reference = Engine(slo_file, engine_settings)
    feed(reference, events, batch)
    if idle_at is not None:
        reference.advance(float(events[-1]["ts"]) + idle_at)  # type: ignore[arg-type]
    expected = reference.alerts + reference.budgets

    first = Engine(slo_file, engine_settings)
    store: Store = {}
    meta = b""
    position = 0
    for cut in cuts:
        feed(first, events[position:cut], batch)
        position = cut
        meta = checkpoint(first, store)
    before = first.alerts + first.budgets  # published before the crash
    feed(first, events[position:crash], batch)  # lost in the crash

    second = restored(slo_file, engine_settings, store, meta)
    feed(second, events[position:], batch)
    if idle_at is not None:
        second.advance(float(events[-1]["ts"]) + idle_at)  # type: ignore[arg-type]
    assert sorted_outputs(before + second.alerts + second.budgets) == sorted_outputs(expected)


def sorted_outputs(outputs: Sequence[msgspec.Struct]) -> list[bytes]:
    return sorted(orjson.dumps(msgspec.to_builtins(o), option=orjson.OPT_SORT_KEYS)
                  for o in outputs)


def test_a_series_of_a_removed_slo_is_dropped_with_a_warning() -> None:
    from streams.domain.slo.loader import parse_slo_text

    text = """
apiVersion: sre-streams/v1
slos:
  - name: a
    service: a
    objective: 0.99
    sli: {availability: {}}
"""
    slo_file = parse_slo_text(text, "a.yaml")
    engine = Engine(slo_file)
    engine.ingest({"ts": 1_795_464_000.0, "service": "a", "status": 200})
    state = [Engine.series_state(s) for s in engine.take_dirty()]
    other = parse_slo_text(text.replace("name: a", "name: b"), "b.yaml")
    warnings = Engine(other).restore(engine.checkpoint_meta(), state)
    assert warnings == ["SLO a is no longer defined: its saved series dropped"]
