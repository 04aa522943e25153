"""The live side of the engine: one Engine per input partition, decoding, dead letters.

No Kafka here: `streams.runtime.engine_service` moves messages between Kafka and these calls, so the logic is
testable without a broker.
"""

from __future__ import annotations

import time
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from operator import lt
from typing import Any, Protocol

import orjson

from streams.domain.engine.evaluation import Engine, EngineSettings, EngineStats
from streams.domain.slo.model import SloFile
from streams.offline.decoding import DecodedBatch, decode_batch
from streams.wire.dead_letter import dead_letter

OUTBOX_CHUNK = 200  # alerts per outbox record, to keep each record far below message limits
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

    alerts: list[dict[str, object]] = field(default_factory=list)
    budgets: list[dict[str, object]] = field(default_factory=list)
    dead_letters: list[dict[str, object]] = field(default_factory=list)
    consumed: int = 0  # input records of the call this step covers (see `max_output`)


def compact(data: bytes) -> bytes:
    """A copy of orjson output, for one kept long: orjson's own buffer holds about 8 KiB of the
    heap whatever the size of its content (measured with orjson 3.13: 20,000 documents of
    1 KB held 156 MiB, their copies 21 MiB)."""
    return bytes(memoryview(data))


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
        self._torn: dict[bytes, bytes] = {}  # records of a checkpoint cut short -> state to write

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
            batch = decode_batch(values, max_bytes=self.max_message_bytes)
            out.consumed = self._count(batch, offset_at, now, max_output, out)
            self.offset = offset_at(out.consumed - 1)
        out.alerts, out.budgets = self.engine.drain()
        return out

    def _count(self, batch: DecodedBatch, offset_at: Callable[[int], int], now: float,
               max_output: int | None, out: Output) -> int:
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
                for position, reason in engine.ingest_batch(events[begin:end], not_after=not_after):
                    event = begin + position
                    out.dead_letters.append(dead_letter(reason, self.topic, self.partition,
                                                        offset_at(batch.message_of(event)),
                                                        batch.payload_of(event)))
            first = last
            if max_output is not None and len(engine.alerts) + len(engine.budgets) >= max_output:
                break
        return first

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
        if not dirty and not alerts and not self._torn and where == self._last_checkpoint:
            return []  # nothing to save
        self._last_checkpoint = where
        self.seq += 1
        records = []
        for series in dirty:
            key = prefix + b"s|" + orjson.dumps([series.slo.name, series.key])
            state = orjson.dumps(self.engine.series_state(series))
            previous = self._saved.get(key, b"null")
            records.append((key, b'{"seq":%d,"state":%b,"previous":%b}' % (self.seq, state, previous)))
            self._saved[key] = compact(state)
        written = {key for key, _ in records}
        for key in sorted(self._torn.keys() - written):  # (see `restore`)
            state = self._torn[key]
            records.append((key, b'{"seq":%d,"state":%b,"previous":%b}' % (self.seq, state, state)))
        self._torn = {}
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
            if record["seq"] > self.seq:
                # Written again by the next checkpoint, before its meta record: that one would
                # make this record count.
                self._torn[key] = compact(orjson.dumps(state))
            if state is not None:
                states.append(state)
                self._saved[key] = compact(orjson.dumps(state))
        warnings = self.engine.restore(meta["engine"], states)
        self.offset = int(meta["offset"])
        self.alert_offsets = {int(k): int(v) for k, v in meta["alert_offsets"].items()}
        self.outbox = [alert for i in range(int(meta["outbox"]))
                       for alert in outbox.get(b"o|%d|%d" % (self.seq % 2, i), [])]
        return warnings
