"""The incident service's checkpoint: bounded records at any scale, and exact after any crash.

The incident processor runs here alone; the checkpoints it makes are the changelog a restart
reads back (the broker-backed paths are in tests/integration/test_incidents.py).
"""

from __future__ import annotations

import random
import time
from typing import Any

import msgspec
import orjson
import pytest

from streams.domain.incidents.book import book_meta, incident_record
from streams.domain.timestamps import format_ts
from streams.runtime.incidents.processor import IncidentProcessor
from streams.runtime.incidents.state import IncidentState
from streams.wire.codec import encode
from tests.unit.conftest import T0
from tests.unit.conftest import alert_fields as alert
from tests.unit.runtime.incidents.conftest import SETTINGS, SLOS, page

LIMIT = 256 << 10  # far below the broker's 1 MiB message limit (outbox chunks: 128 KiB)
Changelog = list[tuple[bytes, bytes | None]]


class Leader:
    """An incident processor and the changelog its checkpoints wrote, in order."""

    def __init__(self, state: IncidentState | None = None) -> None:
        self.processor = IncidentProcessor(SLOS, SETTINGS.topics, SETTINGS.max_future, state)
        self.changelog: Changelog = []

    @property
    def state(self) -> IncidentState:
        return self.processor.state

    def feed(self, topic: str, events: list[dict[str, Any]]) -> list[Any]:
        """Apply one batch of events on `topic` and checkpoint it; returns the outputs (the
        outbox the checkpoint stored)."""
        first = self.state.offsets.get(f"{topic}:0", -1) + 1
        step = self.processor.apply([(topic, 0, first + n, orjson.dumps(e))
                                     for n, e in enumerate(events)], time.time())
        assert step.dead_letters == []
        self.changelog += self.processor.commit(step).messages()
        self.state.outbox = []  # published
        return [list(item) for item in step.outputs]


def restored(log: Changelog) -> Leader:
    return Leader(IncidentState.restored(SLOS, list(dict(log).items())))  # as read_partitions


def snapshot(state: IncidentState, outbox: object = None) -> bytes:
    """Everything a checkpoint stores, canonically (the outbox: as the checkpoint had it)."""
    scalars, sections = state.sections()
    return orjson.dumps({
        "scalars": scalars, "sections": sections, "offsets": state.offsets,
        "incidents": {i: incident_record(x) for i, x in state.book.incidents.items()},
        "budgets": msgspec.to_builtins(state.policies.budgets),
        "outbox": msgspec.to_builtins(state.outbox if outbox is None else outbox),
        "delivery_seq": state.delivery_seq,
        "history": {key: [(p.t, p.remaining, p.good, p.total) for p in series.points()]
                    for key, series in state.history.series.items()}},
        option=orjson.OPT_SORT_KEYS)


def budget(region: str, remaining: float, at: float) -> dict[str, object]:
    return {"kind": "budget", "version": 1, "slo": "checkout-availability",
            "service": "checkout", "series": {"region": region}, "at": format_ts(at),
            "objective": 0.999, "window": "30d", "good": 990, "total": 1000, "sli": 0.99,
            "error_budget_remaining": remaining, "burn_rates": {"1h": 20.0}, "firing": [],
            "labels": {}}


def test_thousands_of_paging_series_make_no_large_record() -> None:
    leader = Leader()
    topics = SETTINGS.topics
    regions = [f"r{n:04d}" for n in range(3000)]
    leader.feed(topics.budgets, [budget(r, 0.5, T0) for r in regions])
    leader.feed(topics.alerts, [page(r, "firing", T0 + 1) for r in regions])
    out = leader.feed(topics.alerts, [alert("ticket-fast", "firing", T0 + 2,
                                            series={"region": r})
                                      for r in regions])  # inhibited: no news but statistics
    state = leader.state
    assert len(state.book.incidents) == 3000
    assert len(state.pending) == 3000 and len(state.noise.rows) == 6000
    sizes = {key: len(value or b"") for key, value in leader.changelog}
    assert max(sizes.values()) < LIMIT, max(sizes.items(), key=lambda kv: kv[1])
    assert sizes[b"m"] < 4096, "the meta record holds offsets and counters only"
    # ... and it all comes back.
    assert len(out) == 3000
    assert snapshot(restored(leader.changelog).state) == snapshot(state, out)


def test_removed_entries_are_deleted_for_good() -> None:
    leader = Leader()
    leader.feed(SETTINGS.topics.alerts, [page("eu", "firing", T0)])
    assert leader.state.pending
    leader.state.pending.clear()  # delivered
    leader.feed(SETTINGS.topics.deploys, [{"ts": format_ts(T0 + 5), "service": "checkout",
                                           "version": "v2"}])  # (no incident event: no delivery)
    deleted = [key for key, value in leader.changelog if value is None]
    assert any(key.startswith(b"s|pending|") for key in deleted), deleted
    copy = restored(leader.changelog).state
    assert copy.pending == {} and snapshot(copy) == snapshot(leader.state, copy.outbox)


def scripted() -> list[tuple[str, list[dict[str, Any]]]]:
    """Batches of budgets, alerts, commands and deploys over a few series."""
    rnd = random.Random(7)
    regions = ["eu", "us", "ap", "sa"]
    batches: list[tuple[str, list[dict[str, Any]]]] = []
    at = T0
    firing: set[str] = set()
    for _ in range(40):
        at += rnd.randint(30, 400)
        kind = rnd.choice(["budgets", "alerts", "alerts", "deploys"])
        if kind == "budgets":
            batches.append(("budgets", [budget(r, rnd.uniform(-0.2, 1.0), at) for r in regions]))
        elif kind == "alerts":
            region = rnd.choice(regions)
            status = "resolved" if region in firing else "firing"
            (firing.discard if status == "resolved" else firing.add)(region)
            batches.append(("alerts", [page(region, status, at)]))
        else:
            batches.append(("deploys", [{"ts": format_ts(at), "service": "checkout",
                                         "version": f"v{len(batches)}"}]))
    return batches


def run(leader: Leader, batches: list[tuple[str, list[dict[str, Any]]]]) -> list[bytes]:
    """Feed the batches; the snapshot after each checkpoint."""
    states = []
    for kind, events in batches:
        if leader.state.pending and kind == "deploys":
            leader.state.pending.popitem()  # a delivery done now and then
        out = leader.feed(getattr(SETTINGS.topics, kind), events)
        states.append(snapshot(leader.state, out))
    return states


@pytest.mark.parametrize("seed", range(10))
def test_a_crash_anywhere_in_a_checkpoint_restores_the_last_complete_one(seed: int) -> None:
    batches = scripted()
    first = Leader()
    states = run(first, batches)
    log = first.changelog
    metas = [n for n, (key, _) in enumerate(log) if key == b"m"]
    rnd = random.Random(seed)
    cut = rnd.randrange(metas[0] + 1, len(log))
    complete = sum(1 for n in metas if n < cut)  # checkpoints whose meta was stored
    copy = restored(log[:cut])
    assert snapshot(copy.state) == states[complete - 1]
    # Carrying on from there (in other batches) and crashing again restores exactly too, even
    # when the records of the checkpoint cut short are not written again by a change.
    rest = batches[complete:]
    regrouped = [("budgets", []), *rest]
    later = run(copy, regrouped)
    for n in range(len(regrouped)):
        again = [i for i, (key, _) in enumerate(copy.changelog) if key == b"m"][n]
        log2 = log[:cut] + copy.changelog[:again + 1]
        assert snapshot(restored(log2).state) == later[n]


def test_a_changelog_of_the_first_layout_still_restores() -> None:
    """Its meta record held the book's, policy's and noise maps, the pending deliveries and
    the outbox; only incidents and budgets were records of their own."""
    leader = Leader()
    leader.feed(SETTINGS.topics.budgets, [budget("eu", 0.5, T0)])
    out = leader.feed(SETTINGS.topics.alerts, [page("eu", "firing", T0 + 1)])
    state = leader.state
    record = b'{"seq":1,"state":%b,"previous":null}'
    log: Changelog = [(b"i|" + i.encode(), record % orjson.dumps(incident_record(x)))
                      for i, x in state.book.incidents.items()]
    log += [(b"b|" + k.encode(), record % encode(b)) for k, b in state.policies.budgets.items()]
    log.append((b"m", orjson.dumps(msgspec.to_builtins({
        "seq": 1, "offsets": state.offsets, "book": book_meta(state.book),
        "policy": state.policies.export(), "noise": state.noise.export(), "outbox": out,
        "pending": list(state.pending.values()), "delivery_seq": state.delivery_seq,
        "published": {}}))))
    assert snapshot(restored(log).state) == snapshot(state, out)
