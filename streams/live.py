"""The live side of the engine: one Engine per input partition, decoding, dead letters.

No Kafka here: `streams.engine_service` moves messages between Kafka and these calls, so the logic is
testable without a broker.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from streams.domain.evaluation import Engine, EngineSettings, EngineStats
from streams.domain.slo import SloFile

PAYLOAD_LIMIT = 4096
OUTBOX_CHUNK = 200  # alerts per outbox record, to keep each record far below message limits


@dataclass
class Output:
    """What one step produced, ready to publish."""

    alerts: list[dict[str, object]] = field(default_factory=list)
    budgets: list[dict[str, object]] = field(default_factory=list)
    dead_letters: list[dict[str, object]] = field(default_factory=list)


def dead_letter(reason: str, topic: str, partition: int, offset: int,
                payload: bytes) -> dict[str, object]:
    return {"kind": "dead-letter", "version": 1, "reason": reason, "topic": topic,
            "partition": partition, "offset": offset,
            "payload": payload[:PAYLOAD_LIMIT].decode("utf-8", "replace")}


class PartitionProcessor:
    """The engine of one input partition and what it has seen."""

    def __init__(self, slo_file: SloFile, settings: EngineSettings, topic: str, partition: int,
                 max_message_bytes: int, max_future: float) -> None:
        self.engine = Engine(slo_file, settings)
        self.topic = topic
        self.partition = partition
        self.max_message_bytes = max_message_bytes
        self.max_future = max_future
        self.offset = -1  # last input offset counted
        self.last_event_at = time.monotonic()
        # Exactly-once alerts: the alerts of a checkpoint are saved with it (the outbox) and
        # published after it; on restore, those not found on the topic are published.
        self.outbox: list[dict[str, object]] = []
        self.alert_offsets: dict[int, int] = {}  # alerts partition -> last offset we published
        self.seq = 0  # checkpoints written
        self._saved: dict[bytes, bytes] = {}  # table key -> the series state last written
        self._last_checkpoint: object = None

    def process(self, records: Iterable[tuple[int, bytes | None]], now: float) -> Output:
        """Count a run of (offset, message value) of this partition, in offset order."""
        out = Output()
        events: list[object] = []
        origins: list[tuple[int, bytes | None]] = []
        engine = self.engine
        for offset, raw in records:
            if offset <= self.offset:
                continue  # counted already: the state holds it
            self.offset = offset
            if raw is None or len(raw) > self.max_message_bytes:
                reason = "empty message" if raw is None else (
                    f"message over the size limit ({len(raw)} > {self.max_message_bytes} bytes)")
                engine.reject(reason)
                out.dead_letters.append(dead_letter(reason, self.topic, self.partition, offset,
                                                    raw or b""))
                continue
            try:
                decoded = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                engine.reject("invalid JSON")
                out.dead_letters.append(dead_letter(
                    f"invalid JSON: {exc.args[0] if exc.args else exc}", self.topic,
                    self.partition, offset, raw))
                continue
            if type(decoded) is list:
                if not decoded:
                    engine.reject("empty batch")
                    out.dead_letters.append(dead_letter("empty batch", self.topic, self.partition,
                                                        offset, raw))
                    continue
                events.extend(decoded)
                origins.extend([(offset, None)] * len(decoded))
            else:
                events.append(decoded)
                origins.append((offset, raw))
        if events:
            self.last_event_at = time.monotonic()
            for position, reason in engine.ingest_batch(events, not_after=now + self.max_future):
                offset, raw = origins[position]
                payload = raw if raw is not None else orjson.dumps(events[position])
                out.dead_letters.append(dead_letter(reason, self.topic, self.partition, offset,
                                                    payload))
        out.alerts, out.budgets = engine.drain()
        return out

    def idle(self, now: float, max_instants: int | None = None) -> tuple[Output, bool]:
        """Advance event time with the wall clock: no traffic must still resolve alerts.

        At most `max_instants` evaluations per call (a long silence is caught up in steps,
        so the worker stays responsive); returns the output and whether it caught up.
        """
        out = Output()
        target = now - self.engine.settings.lateness
        engine = self.engine
        done = True
        if max_instants is not None and engine.next_instant is not None:
            limit = (engine.next_instant + max_instants - 1) * engine.settings.eval_interval
            if limit < target:
                target, done = limit, False
        engine.advance(target)
        out.alerts, out.budgets = engine.drain()
        return out, done

    @property
    def stats(self) -> EngineStats:
        return self.engine.stats

    # -- checkpoints: the partition's state as table records ---------------------------

    def key_prefix(self) -> bytes:
        return b"%d|" % self.partition

    def checkpoint(self, alerts: list[dict[str, object]]) -> list[tuple[bytes, bytes]]:
        """Table records for what changed since the last checkpoint, meta record last
        (none when nothing changed).

        Each changed series is one record (written once per checkpoint however many events
        it counted); `alerts` become the outbox, to publish once these records are stored.

        The records of one checkpoint go to one changelog partition in order, and a crash
        can store a prefix of them. So the meta record comes last and carries the checkpoint
        number; each series record carries its number and the series' previous record, the
        state as of the last complete checkpoint; outbox records alternate between two key
        sets so a partial checkpoint never overwrites the outbox of the complete one.
        """
        prefix = self.key_prefix()
        dirty = self.engine.take_dirty()
        where = (self.offset, self.engine.checkpoint_meta(), sorted(self.alert_offsets.items()))
        if not dirty and not alerts and where == self._last_checkpoint:
            return []  # nothing to save
        self._last_checkpoint = where
        self.seq += 1
        records = []
        for series in dirty:
            key = prefix + b"s|" + orjson.dumps([series.slo.name, series.key])
            state = orjson.dumps(self.engine.series_state(series))
            previous = self._saved.get(key, b"null")
            records.append((key, b'{"seq":%d,"state":%b,"previous":%b}' % (self.seq, state, previous)))
            self._saved[key] = state
        chunks = [alerts[i:i + OUTBOX_CHUNK] for i in range(0, len(alerts), OUTBOX_CHUNK)]
        records += [(prefix + b"o|%d|%d" % (self.seq % 2, i), orjson.dumps(chunk))
                    for i, chunk in enumerate(chunks)]
        meta = {
            "version": 1,
            "seq": self.seq,
            "offset": self.offset,
            "engine": self.engine.checkpoint_meta(),
            "outbox": len(chunks),
            "alert_offsets": {str(k): v for k, v in self.alert_offsets.items()},
        }
        records.append((prefix + b"m", orjson.dumps(meta)))
        self.outbox = alerts
        return records

    def restore(self, records: Iterable[tuple[bytes, bytes | None]]) -> list[str]:
        """Load this partition's records as of the last complete checkpoint; returns warnings."""
        prefix = self.key_prefix()
        meta: dict[str, Any] | None = None
        saved: dict[bytes, dict[str, Any]] = {}
        outbox: dict[bytes, list[dict[str, object]]] = {}
        for key, value in records:
            if not key.startswith(prefix) or value is None:
                continue
            kind = key[len(prefix):]
            if kind == b"m":
                meta = orjson.loads(value)
            elif kind.startswith(b"s|"):
                saved[key] = orjson.loads(value)
            elif kind.startswith(b"o|"):
                outbox[kind] = orjson.loads(value)
        if meta is None:
            return []
        self.seq = int(meta["seq"])
        states = []
        for key, record in saved.items():
            # A record newer than the meta is from a checkpoint cut short: its previous state
            # is the complete one (None: the series came after it).
            state = record["state"] if record["seq"] <= self.seq else record["previous"]
            if state is not None:
                states.append(state)
                self._saved[key] = orjson.dumps(state)
        warnings = self.engine.restore(meta["engine"], states)
        self.offset = int(meta["offset"])
        self.alert_offsets = {int(k): int(v) for k, v in meta["alert_offsets"].items()}
        self.outbox = [alert for i in range(int(meta["outbox"]))
                       for alert in outbox.get(b"o|%d|%d" % (self.seq % 2, i), [])]
        return warnings
