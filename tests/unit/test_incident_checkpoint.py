"""The incident service's checkpoint: bounded records at any scale, and exact after any crash.

The service runs here with a recording producer in place of the broker (the broker-backed
paths are in tests/integration/test_incidents.py); what it writes is the changelog a restart
reads back.
"""

from __future__ import annotations

import asyncio
import random
from collections import namedtuple
from typing import Any

import msgspec
import orjson
import pytest
from aiokafka import TopicPartition

from streams.domain.incidents.book import IncidentBook, incident_record
from streams.domain.policy import PolicyBook
from streams.domain.slo.loader import parse_slo_text
from streams.domain.timestamps import format_ts
from streams.runtime.incident_service import IncidentService
from streams.runtime.settings import Settings
from tests.unit.test_incidents import T0
from tests.unit.test_incidents import alert_fields as alert

FILE = """apiVersion: sre-streams/v1
slos:
  - {name: checkout-availability, service: checkout, objective: 0.999, sli: {availability: {}},
     group_by: [region]}
incidents:
  escalation:
    levels:
      - {after: 5m, notify: [hook]}
    repeat: 2
notify:
  receivers:
    - {name: hook, webhook: {url: "http://127.0.0.1:9/hook"}}
  routes:
    - {receiver: hook}
"""

Sent = namedtuple("Sent", "partition offset")
Message = namedtuple("Message", "offset value")
LIMIT = 256 << 10  # far below the broker's 1 MiB message limit (outbox chunks: 128 KiB)


class Recorder:
    """A producer that keeps what is sent to the changelog, in order."""

    def __init__(self) -> None:
        self.changelog: list[tuple[bytes, bytes | None]] = []
        self.counts: dict[str, int] = {}

    async def send(self, topic: str, value: bytes | None, key: bytes | None = None,
                   partition: int | None = None) -> asyncio.Future[Sent]:
        if topic.endswith("-changelog"):
            assert key is not None
            self.changelog.append((key, value))
        self.counts[topic] = self.counts.get(topic, 0) + 1
        future: asyncio.Future[Sent] = asyncio.get_running_loop().create_future()
        future.set_result(Sent(0, self.counts[topic] - 1))
        return future

    async def flush(self) -> None:
        return None


def service(recorder: Recorder) -> IncidentService:
    slo_file = parse_slo_text(FILE)
    made = IncidentService(Settings(), slo_file)
    made.book, made.policies = IncidentBook(slo_file.incidents), PolicyBook(slo_file)
    made.producer = recorder  # type: ignore[assignment]
    return made


def restored(log: list[tuple[bytes, bytes | None]], recorder: Recorder) -> IncidentService:
    made = service(recorder)
    assert made.book is not None and made.policies is not None
    made._restore(made.book, made.policies, list(dict(log).items()))  # as read_partitions reads
    return made


def snapshot(made: IncidentService, outbox: object = None) -> bytes:
    """Everything a checkpoint stores, canonically (the outbox: as the checkpoint had it)."""
    assert made.book is not None and made.policies is not None
    scalars, sections = made._state()
    return orjson.dumps({
        "scalars": scalars, "sections": sections, "offsets": made.offsets,
        "incidents": {i: incident_record(x) for i, x in made.book.incidents.items()},
        "budgets": msgspec.to_builtins(made.policies.budgets),
        "outbox": made.outbox if outbox is None else outbox,
        "delivery_seq": made.delivery_seq}, option=orjson.OPT_SORT_KEYS)


def feed(made: IncidentService, topic: str, events: list[dict[str, Any]]) -> list[Any]:
    """Apply one batch of events on `topic`, checkpoint and publish; returns the outputs (the
    outbox the checkpoint stored)."""
    name = f"{topic}:0"
    first = made.offsets.get(name, -1) + 1
    batch = {TopicPartition(topic, 0): [Message(first + n, orjson.dumps(e))
                                        for n, e in enumerate(events)]}
    out, dead = made._apply(batch)
    assert dead == []

    asyncio.run(made._commit(out, dead))
    return [list(item) for item in out]


def budget(region: str, remaining: float, at: float) -> dict[str, object]:
    return {"kind": "budget", "version": 1, "slo": "checkout-availability",
            "service": "checkout", "series": {"region": region}, "at": format_ts(at),
            "objective": 0.999, "window": "30d", "good": 990, "total": 1000, "sli": 0.99,
            "error_budget_remaining": remaining, "burn_rates": {"1h": 20.0}, "firing": [],
            "labels": {}}


def page(region: str, status: str, at: float) -> dict[str, object]:
    return alert("page-fast", status, at, series={"region": region})


def test_thousands_of_paging_series_make_no_large_record() -> None:
    recorder = Recorder()
    made = service(recorder)
    topics = made.topics
    regions = [f"r{n:04d}" for n in range(3000)]
    feed(made, topics.budgets, [budget(r, 0.5, T0) for r in regions])
    feed(made, topics.alerts, [page(r, "firing", T0 + 1) for r in regions])
    out = feed(made, topics.alerts, [alert("ticket-fast", "firing", T0 + 2, series={"region": r})
                                     for r in regions])  # inhibited: no news but statistics
    assert made.book is not None and len(made.book.incidents) == 3000
    assert len(made.pending) == 3000 and len(made.noise.rows) == 6000
    sizes = {key: len(value or b"") for key, value in recorder.changelog}
    assert max(sizes.values()) < LIMIT, max(sizes.items(), key=lambda kv: kv[1])
    assert sizes[b"m"] < 4096, "the meta record holds offsets and counters only"
    # ... and it all comes back.
    assert len(out) == 3000
    assert snapshot(restored(recorder.changelog, Recorder())) == snapshot(made, out)


def test_removed_entries_are_deleted_for_good() -> None:
    recorder = Recorder()
    made = service(recorder)
    feed(made, made.topics.alerts, [page("eu", "firing", T0)])
    assert made.pending
    made.pending.clear()  # delivered
    feed(made, made.topics.deploys, [{"ts": format_ts(T0 + 5), "service": "checkout",
                                      "version": "v2"}])  # (no incident event: no delivery)
    deleted = [key for key, value in recorder.changelog if value is None]
    assert any(key.startswith(b"s|pending|") for key in deleted), deleted
    copy = restored(recorder.changelog, Recorder())
    assert copy.pending == {} and snapshot(copy) == snapshot(made, copy.outbox)


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


def run(made: IncidentService, batches: list[tuple[str, list[dict[str, Any]]]]) -> list[bytes]:
    """Feed the batches; the snapshot after each checkpoint."""
    states = []
    for kind, events in batches:
        if made.pending and kind == "deploys":
            made.pending.popitem()  # a delivery done now and then
        out = feed(made, getattr(made.topics, kind), events)
        states.append(snapshot(made, out))
    return states


@pytest.mark.parametrize("seed", range(10))
def test_a_crash_anywhere_in_a_checkpoint_restores_the_last_complete_one(seed: int) -> None:
    batches = scripted()
    recorder = Recorder()
    states = run(service(recorder), batches)
    log = recorder.changelog
    metas = [n for n, (key, _) in enumerate(log) if key == b"m"]
    rnd = random.Random(seed)
    cut = rnd.randrange(metas[0] + 1, len(log))
    complete = sum(1 for n in metas if n < cut)  # checkpoints whose meta was stored
    copy_recorder = Recorder()
    copy = restored(log[:cut], copy_recorder)
    assert snapshot(copy) == states[complete - 1]
    # Carrying on from there (in other batches) and crashing again restores exactly too, even
    # when the records of the checkpoint cut short are not written again by a change.
    rest = batches[complete:]
    regrouped = [("budgets", []), *rest]
    later = run(copy, regrouped)
    for n in range(len(regrouped)):
        again = [i for i, (key, _) in enumerate(copy_recorder.changelog) if key == b"m"][n]
        log2 = log[:cut] + copy_recorder.changelog[:again + 1]
        assert snapshot(restored(log2, Recorder())) == later[n]
