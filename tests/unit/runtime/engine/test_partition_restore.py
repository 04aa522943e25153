"""A partition's checkpoint records survive any crash point: nothing lost, nothing twice."""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from pathlib import Path

import msgspec
import orjson
import pytest

from streams.domain.engine.evaluation import EngineSettings
from streams.domain.slo.loader import load_slo_file
from streams.domain.timestamps import parse_ts
from streams.runtime.engine.partition import PartitionProcessor
from streams.runtime.state.checkpoint import Checkpoint
from streams.synthetic.traffic import iter_jsonl, preset
from streams.wire.alerts import Alert
from streams.wire.budgets import BudgetSnapshot

SLOS = load_slo_file(Path(__file__).resolve().parents[4] / "examples" / "slos.yaml")
SETTINGS = EngineSettings()


@pytest.fixture(scope="module")
def messages() -> list[tuple[int, bytes | None]]:
    scenario = preset("outage", start=parse_ts("2026-11-23T00:00:00Z"), duration=2 * 3600,
                      rate=10, seed=3)
    events = [orjson.loads(line) for line in iter_jsonl(scenario)]
    return list(enumerate(orjson.dumps(events[i:i + 20]) for i in range(0, len(events), 20)))


def processor() -> PartitionProcessor:
    return PartitionProcessor(SLOS, SETTINGS, "requests", 0, 1 << 20, 60.0)


def written(checkpoint: Checkpoint | None) -> list[tuple[bytes, bytes | None]]:
    """A checkpoint's records in the order the worker writes them."""
    return checkpoint.messages() if checkpoint is not None else []


def canonical(outputs: Sequence[msgspec.Struct]) -> list[bytes]:
    return sorted(orjson.dumps(msgspec.to_builtins(o), option=orjson.OPT_SORT_KEYS)
                  for o in outputs)


@pytest.mark.parametrize("seed", range(12))
def test_a_crash_anywhere_in_a_checkpoint_neither_loses_nor_repeats(
    messages: list[tuple[int, bytes | None]], seed: int,
) -> None:
    now = time.time()
    reference = processor().process(messages, now)
    rnd = random.Random(seed)

    table: dict[bytes, bytes | None] = {}
    published: list[Alert] = []  # the alerts topic
    budgets: list[BudgetSnapshot] = []
    crash_at = rnd.randrange(len(messages))
    first, position = processor(), 0
    while True:
        batch = messages[position:position + rnd.randint(1, 300)]
        position += len(batch)
        out = first.process(batch, now)
        budgets += out.budgets  # published before the checkpoint (at least once)
        records = written(first.checkpoint(out.alerts))
        if position >= crash_at:
            # The crash: a prefix of this checkpoint's records is stored; if all of them
            # are, its alerts may or may not have been published.
            stored = rnd.randint(0, len(records))
            table.update(records[:stored])
            if stored == len(records) and rnd.random() < 0.5:
                published += out.alerts
            break
        table.update(records)
        published += out.alerts

    second = processor()
    assert second.restore(table.items()) == []
    seen = {(a.id, a.status, a.at) for a in published}
    published += [a for a in second.outbox if (a.id, a.status, a.at) not in seen]
    # Kafka redelivers from the committed offset, at most the restored one: here, all.
    out = second.process(messages, now)
    published += out.alerts
    budgets += out.budgets

    assert canonical(published) == canonical(reference.alerts)
    assert len(published) == len(reference.alerts)
    assert set(canonical(budgets)) == set(canonical(reference.budgets))


def test_a_long_silence_is_caught_up_in_steps_with_the_same_output(
    messages: list[tuple[int, bytes | None]],
) -> None:
    now = time.time()
    whole, stepped = processor(), processor()
    whole.process(messages[:200], now)
    stepped.process(messages[:200], now)
    later = float(orjson.loads(messages[199][1] or b"[]")[-1]["ts"]) + 7200
    expected, done = whole.idle(later)
    assert done
    outputs: list[Alert | BudgetSnapshot] = []
    steps = 0
    while True:
        out, done = stepped.idle(later, max_instants=100)
        outputs += out.alerts + out.budgets
        steps += 1
        if done:
            break
    assert steps == 8  # 720 instants, 100 at a time
    assert canonical(outputs) == canonical(expected.alerts + expected.budgets)


@pytest.mark.parametrize("seed", range(6))
def test_records_of_a_checkpoint_cut_short_never_count_later(
    messages: list[tuple[int, bytes | None]], seed: int,
) -> None:
    now = time.time()
    rnd = random.Random(seed)
    first, position = processor(), 0
    table: dict[bytes, bytes | None] = {}
    for _ in range(3):
        batch = messages[position:position + rnd.randint(20, 100)]
        position += len(batch)
        table.update(written(first.checkpoint(first.process(batch, now).alerts)))
    complete = dict(table)
    # Cut short: the series records of the next checkpoint are stored, its meta record is not.
    records = written(first.checkpoint(first.process(messages[position:position + 100], now).alerts))
    assert records[-1][0].endswith(b"m") and len(records) > 1
    table.update(records[:-1])
    # The restarted worker checkpoints before anything changes again (e.g. a step that counts
    # nothing); then it dies too.
    second = processor()
    assert second.restore(table.items()) == []
    table.update(written(second.checkpoint([])))
    third, reference = processor(), processor()
    third.restore(table.items())
    reference.restore(complete.items())
    assert third.log.stored_states == reference.log.stored_states
    assert third.offset == reference.offset
    # ... and counts on exactly.
    rest = messages[reference.offset + 1:]
    assert canonical(third.process(rest, now).alerts) == canonical(reference.process(rest, now).alerts)
