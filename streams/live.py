"""The live side of the engine: one Engine per input partition, decoding, dead letters.

No Faust here: `streams.app` moves messages between Kafka and these calls, so the logic is
testable without a broker.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson

from streams.domain.evaluation import Engine, EngineSettings, EngineStats
from streams.domain.slo import SloFile

PAYLOAD_LIMIT = 4096


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

    def process(self, records: Iterable[tuple[int, bytes | None]], now: float) -> Output:
        """Count a run of (offset, message value) of this partition, in offset order."""
        out = Output()
        events: list[object] = []
        origins: list[tuple[int, bytes | None]] = []
        engine = self.engine
        for offset, raw in records:
            if offset <= self.offset:
                continue  # counted before a restart; the state already holds it
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

    def idle(self, now: float) -> Output:
        """Advance event time with the wall clock: no traffic must still resolve alerts."""
        out = Output()
        self.engine.advance(now - self.engine.settings.lateness)
        out.alerts, out.budgets = self.engine.drain()
        return out

    @property
    def stats(self) -> EngineStats:
        return self.engine.stats
