"""The live side of the engine: one Engine per input partition, decoding, dead letters.

No Kafka here: `streams.runtime.engine.service` moves messages between Kafka and these calls, so the logic is
testable without a broker.
"""

from __future__ import annotations

import time
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from operator import lt
from typing import Protocol

import msgspec
import orjson

from streams.domain.engine.evaluation import Engine, EngineSettings, EngineStats
from streams.domain.slo.model import SloFile
from streams.domain.stored import StoredState
from streams.offline.columnar import ColumnBatch, Deferred, FieldBatch, FieldSchema, deferred_batch
from streams.offline.decoding import DecodedBatch, decode_batch
from streams.runtime.engine.demand import STATE_PREFIX, PartitionDemand
from streams.runtime.state.checkpoint import Checkpoint, CheckpointLog
from streams.wire.alerts import Alert
from streams.wire.budgets import BudgetSnapshot
from streams.wire.capacity import CapacityEvent
from streams.wire.codec import encode
from streams.wire.dead_letter import DeadLetter, dead_letter

INGEST_CHUNK = 8192  # events per Engine.ingest_batch call: large enough to amortise its fixed
# cost, small enough that its column-wise passes stay in the CPU cache (measured, 1M events)
FIRST_RUN = 256  # events of the first run of a step with an output bound, before its rate is known


class InputMessage(Protocol):
    """A message of the input topic as the consumer hands it over (aiokafka's ConsumerRecord)."""

    @property
    def offset(self) -> int: ...

    @property
    def value(self) -> bytes | None: ...


@dataclass
class Output:
    """What one step produced, ready to publish."""

    alerts: list[Alert] = field(default_factory=list)
    budgets: list[BudgetSnapshot] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    consumed: int = 0  # input records of the call this step covers (see `max_output`)
    capacity: list[CapacityEvent] = field(default_factory=list)  # hours closed by this step




def partition_prefix(partition: int) -> bytes:
    """The key prefix of a partition's checkpoints in the engine's changelog."""
    return b"%d|" % partition


class PartitionProcessor:
    """The engine of one input partition and what it has seen."""

    def __init__(self, slo_file: SloFile, settings: EngineSettings, topic: str, partition: int,
                 max_message_bytes: int, max_future: float) -> None:
        self.engine = Engine(slo_file, settings)
        self._schema = FieldSchema(slo_file.slos)
        self.topic = topic
        self.partition = partition
        self.max_message_bytes = max_message_bytes
        self.max_future = max_future
        self.offset = -1  # last input offset counted
        self.last_event_at = time.monotonic()
        # Exactly-once alerts: the alerts of a checkpoint are saved with it (the outbox) and
        # published after it; on restore, those not found on the topic are published.
        self.outbox: list[Alert] = []
        self.alert_offsets: dict[int, int] = {}  # alerts partition -> last offset we published
        self.log = CheckpointLog(partition_prefix(partition))
        self._last_checkpoint: object = None
        # Capacity planning (the SLO file's `capacity`): off, and free, without plans.
        self.demand = PartitionDemand(slo_file) if slo_file.capacity else None

    def process(self, records: Iterable[tuple[int, bytes | None]], now: float,
                max_output: int | None = None) -> Output:
        """Count a run of (offset, message value) of this partition, in offset order.

        With `max_output`, the step ends after the first run of messages that brings its alerts
        and budget snapshots to that many (a catch-up over hours of event time would otherwise
        hold them all at once): `Output.consumed` is the number of records it covers, records
        counted already included; the caller publishes it and calls again with the rest.
        """
        pairs = records if isinstance(records, list) else list(records)
        offsets = [offset for offset, _ in pairs]
        if not offsets or (offsets[0] > self.offset and all(map(lt, offsets, offsets[1:]))):
            return self._process([raw for _, raw in pairs], offsets.__getitem__, now, max_output)
        offsets, values, indices = [], [], []  # some counted already: the state holds them
        last = self.offset
        for index, (offset, raw) in enumerate(pairs):
            if offset > last:
                offsets.append(offset)
                values.append(raw)
                indices.append(index)
                last = offset
        out = self._process(values, offsets.__getitem__, now, max_output)
        out.consumed = len(pairs) if out.consumed == len(values) else indices[out.consumed]
        return out

    def process_messages(self, messages: Sequence[InputMessage], now: float,
                         max_output: int | None = None) -> Output:
        """`process` for Kafka records of this partition, offsets ascending as a fetch gives
        them, without making an (offset, value) pair per record."""
        if messages and messages[0].offset <= self.offset:  # redelivered: skip what is counted
            return self.process(((m.offset, m.value) for m in messages), now, max_output)
        return self._process([m.value for m in messages], lambda i: messages[i].offset, now,
                             max_output)

    def _process(self, values: list[bytes | None], offset_at: Callable[[int], int], now: float,
                 max_output: int | None) -> Output:
        """Decode messages (the i-th at offset `offset_at(i)`), then count their events."""
        out = Output()
        if values:
            fields = self._schema.decode(values, max_bytes=self.max_message_bytes)
            batch = (decode_batch(values, max_bytes=self.max_message_bytes) if fields is None
                     else deferred_batch(values, fields))
            out.consumed = self._count(batch, fields, offset_at, now, max_output, out)
            self.offset = offset_at(out.consumed - 1)
        out.alerts, out.budgets = self.engine.drain()
        if self.demand is not None:
            out.capacity, runway = self.demand.advance(self.engine.watermark)
            out.alerts += runway
        return out

    def _count(self, batch: DecodedBatch, fields: FieldBatch | ColumnBatch | None,
               offset_at: Callable[[int], int], now: float, max_output: int | None,
               out: Output) -> int:
        """Feed the events to the engine in runs of whole messages of about INGEST_CHUNK events;
        returns the messages counted (all, unless `max_output` was reached).

        With `max_output`, runs are sized from the output per event seen so far, so a run
        over hours of event time does not overshoot the bound by much.
        """
        engine = self.engine
        events, ends, refusals = batch.events, batch.ends, batch.refusals
        not_after = now + self.max_future
        first, total = 0, len(events)
        while first < len(ends):
            begin = ends[first - 1] if first else 0
            runs = -(-(total - begin) // INGEST_CHUNK)  # even runs: no small one at the end
            size = -(-(total - begin) // runs) if runs else 0
            if max_output is not None:
                # Output comes in bursts (every series at each evaluation instant): until
                # some has come, runs double; then they are sized from output per event.
                made = len(engine.alerts) + len(engine.budgets)
                size = min(size, max(FIRST_RUN, begin) if not made else
                           max(FIRST_RUN, begin * (max_output - made) // made))
            last = max(bisect_right(ends, begin + size, first), first + 1)  # messages first..last-1
            end = ends[last - 1]
            for i in range(first, last) if refusals else ():
                if i in refusals:
                    refusal = refusals[i]
                    engine.reject(refusal.statistic)
                    out.dead_letters.append(dead_letter(refusal.reason, self.topic, self.partition,
                                                        offset_at(i), batch.payloads[i] or b""))
            if end > begin:
                self.last_event_at = time.monotonic()
                refused = set()
                if fields is None or not isinstance(events, Deferred):
                    run, typed = events[begin:end], None
                else:  # the dict events only if the typed columns are declined
                    run, typed = events.view(begin, end), fields.slice(begin, end)
                for position, reason in engine.ingest_batch(run, not_after=not_after, fields=typed):
                    event = begin + position
                    refused.add(position)
                    out.dead_letters.append(dead_letter(reason, self.topic, self.partition,
                                                        offset_at(batch.message_of(event)),
                                                        batch.payload_of(event)))
                demand = self.demand
                if demand is not None and typed is not None and not typed.present("slo"):
                    # Request events only: metered off the typed columns, not as dicts.
                    demand.feed_requests(typed.floats("ts").tolist(), typed.values("service"),
                                         refused)
                elif demand is not None:
                    demand.feed(events[begin:end], refused)
            first = last
            if max_output is not None and len(engine.alerts) + len(engine.budgets) >= max_output:
                break
        return first

    def process_resources(self, topic: str, records: Sequence[tuple[int, bytes | None]],
                          now: float) -> Output:
        """Resource events (`sre.resources`) of the partition of the same number, into the
        demand history: their hourly maximum is idempotent, so a redelivery changes nothing."""
        out = Output()
        if self.demand is None or not records:
            return out
        batch = decode_batch([raw for _, raw in records], max_bytes=self.max_message_bytes)
        for index, refusal in batch.refusals.items():
            out.dead_letters.append(dead_letter(refusal.reason, topic, self.partition,
                                                records[index][0], batch.payloads[index] or b""))
        for position, reason in self.demand.resources(batch.events, now + self.max_future):
            message = batch.message_of(position)
            out.dead_letters.append(dead_letter(reason, topic, self.partition,
                                                records[message][0], batch.payload_of(position)))
        out.capacity, out.alerts = self.demand.advance(self.engine.watermark)
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
        if self.demand is not None:
            out.capacity, runway = self.demand.advance(engine.watermark)
            out.alerts += runway
        return out, done

    @property
    def stats(self) -> EngineStats:
        return self.engine.stats

    # -- checkpoints: the partition's state as table records ---------------------------

    @property
    def seq(self) -> int:
        """Checkpoints written (or restored)."""
        return self.log.seq

    def checkpoint(self, alerts: list[Alert]) -> Checkpoint | None:
        """Table records for what changed since the last checkpoint (None when nothing did).

        Each changed series is one record (written once per checkpoint however many events
        it counted); `alerts` become the outbox, to publish once these records are stored
        (the format: `streams.runtime.state.checkpoint`).
        """
        dirty = self.engine.take_dirty()
        demand = self.demand.take_state() if self.demand is not None else []
        where = (self.offset, self.engine.checkpoint_meta(), sorted(self.alert_offsets.items()))
        if not dirty and not alerts and not self.log.torn and where == self._last_checkpoint \
                and not demand:
            return None  # nothing to save
        self._last_checkpoint = where
        entries = [(b"s|" + orjson.dumps([series.slo.name, series.key]),
                    orjson.dumps(self.engine.series_state(series))) for series in dirty]
        entries += demand

        def meta(seq: int, chunks: int) -> StoredState:
            return {"version": 1, "seq": seq, "offset": self.offset,
                    "engine": self.engine.checkpoint_meta(), "outbox": chunks,
                    "alert_offsets": {str(k): v for k, v in self.alert_offsets.items()}}

        self.outbox = alerts
        return self.log.write(entries, map(encode, alerts), meta)

    def restore(self, records: Iterable[tuple[bytes, bytes | None]]) -> list[str]:
        """Load this partition's records as of the last complete checkpoint; returns warnings."""
        restored = self.log.restore(records)
        if restored is None:
            return []
        meta = restored.meta
        demand = {key: restored.entries.pop(key) for key in list(restored.entries)
                  if key.startswith(STATE_PREFIX)}
        if self.demand is not None:
            self.demand.restore(demand)
        warnings = self.engine.restore(meta["engine"], list(restored.entries.values()))
        self.offset = int(meta["offset"])
        self.alert_offsets = {int(k): int(v) for k, v in meta["alert_offsets"].items()}
        self.outbox = [msgspec.convert(alert, Alert) for alert in restored.outbox]
        return warnings
