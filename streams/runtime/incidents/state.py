"""The incident service's state and its changelog records (`<app id>-incident-state-changelog`).

Every part of the state that grows with series, alerts or deliveries is a record per entry,
written when it changes, so no record grows with the fleet: `i|<incident id>` per incident,
`b|<series key>` per series budget, `s|<part>.<field>|<name>` per entry of the book's, the
policy's and the noise statistics' keyed maps, `s|pending|<key>` per pending delivery, and
`h|<tier>|<chunk>|<series key>` per chunk of a series' budget history (`streams.domain.history`,
for the web pages' charts). The meta record holds offsets and counters only. The format
(sequence numbers, torn-write repair, the outbox) is `streams.runtime.state.checkpoint`'s.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import msgspec
import orjson

from streams.domain.history import HistoryBook, chunk_json
from streams.domain.incidents.book import IncidentBook, book_meta, incident_record, restore_book
from streams.domain.incidents.noise import NoiseBook
from streams.domain.policy import PolicyBook
from streams.domain.slo.model import SloFile
from streams.domain.stored import StoredState
from streams.domain.toil.config import ToilConfig
from streams.domain.toil.live import LiveToil
from streams.domain.toil.runbooks import RunbookState
from streams.runtime.state.checkpoint import NULL, Checkpoint, CheckpointLog
from streams.wire.alerts import Alert, AlertStats
from streams.wire.capacity import CapacityEvent
from streams.wire.codec import encode
from streams.wire.incidents import IncidentEvent
from streams.wire.policy import PolicyEvent
from streams.wire.toil import WorkEvent

OutputMessage = IncidentEvent | PolicyEvent | AlertStats | Alert | WorkEvent
_TAGGED = IncidentEvent | PolicyEvent | AlertStats | Alert  # told apart by their `kind`
Outputs = list[tuple[str, OutputMessage]]  # (topic, event)


class Delivery(msgspec.Struct, kw_only=True):
    """An incident event still to send to one receiver; stored as its JSON object."""

    key: str  # the Idempotency-Key (PagerDuty: the dedup key comes from the event)
    receiver: str
    event: IncidentEvent
    attempt: int = 0  # attempts made
    not_before: float | None = 0.0  # epoch seconds of the next attempt
    seq: int = 0  # the order the events happened in


def capacity_key(event: CapacityEvent) -> str:
    return f"{event.service}/{event.resource or ''}"


def _output(value: object) -> OutputMessage:
    """A stored outbox event, typed by its `kind`."""
    if isinstance(value, dict) and value.get("kind") in {"toil", "project", "overhead", "automated"}:
        return msgspec.convert(value, WorkEvent)  # a work event's `kind` is its own field
    message: OutputMessage = msgspec.convert(value, _TAGGED)
    return message


@dataclass
class IncidentState:
    """What the incident leader keeps, and what it has stored of it."""

    book: IncidentBook
    policies: PolicyBook
    noise: NoiseBook = field(default_factory=NoiseBook)
    toil: LiveToil = field(default_factory=lambda: LiveToil(ToilConfig()))
    runbooks: RunbookState = field(default_factory=RunbookState)
    capacity: dict[str, CapacityEvent] = field(default_factory=dict)  # capacity_key -> latest
    offsets: dict[str, int] = field(default_factory=dict)  # "topic:partition" -> last applied
    pending: dict[str, Delivery] = field(default_factory=dict)  # by delivery key
    delivery_seq: int = 0  # deliveries numbered in the order their events happened
    outbox: Outputs = field(default_factory=list)  # outputs of the last checkpoint, unpublished
    # topic -> partition -> last offset published (where a republish starts looking)
    published: dict[str, dict[int, int]] = field(default_factory=dict)
    changed: set[str] = field(default_factory=set)  # incident ids to write
    changed_budgets: set[str] = field(default_factory=set)  # series keys to write
    log: CheckpointLog = field(default_factory=CheckpointLog)
    entries: set[bytes] = field(default_factory=set)  # keys of the stored section entries
    history: HistoryBook = field(default_factory=lambda: HistoryBook({}))  # budgets over time

    @classmethod
    def empty(cls, slo_file: SloFile) -> IncidentState:
        return cls(IncidentBook(slo_file.incidents), PolicyBook(slo_file),
                   toil=LiveToil(slo_file.toil),
                   history=HistoryBook({slo.name: slo.window for slo in slo_file.slos}))

    def sections(self) -> tuple[dict[str, StoredState], dict[str, StoredState]]:
        """The state besides incidents and budgets: (scalars for the meta record, keyed maps
        stored a record per entry, by section name "<part>.<field>")."""
        scalars: dict[str, StoredState] = {}
        sections: dict[str, StoredState] = {
            "pending": {key: msgspec.to_builtins(d) for key, d in self.pending.items()},
            "capacity": {key: msgspec.to_builtins(e) for key, e in self.capacity.items()}}
        for part, exported in (("book", book_meta(self.book)), ("policy", self.policies.export()),
                               ("noise", self.noise.export()), ("toil", self.toil.export()),
                               ("runbooks", msgspec.to_builtins(self.runbooks))):
            for name, value in exported.items():
                if isinstance(value, Mapping):
                    sections[f"{part}.{name}"] = value if isinstance(value, dict) else dict(value)
                else:
                    scalars.setdefault(part, {})[name] = value
        return scalars, sections

    def checkpoint(self) -> Checkpoint:
        """The changed records, the outbox and the meta record (see the module's docstring)."""
        incidents, budgets = self.book.incidents, self.policies.budgets
        records = [(b"i|" + ident.encode(), orjson.dumps(incident_record(incidents[ident])))
                   for ident in sorted(self.changed) if ident in incidents]
        # Retired by retention: a tombstone, so a restart restores exactly the retained set.
        records += [(b"i|" + ident.encode(), NULL) for ident in sorted(self.changed)
                    if ident not in incidents]
        records += [(b"b|" + key.encode(), encode(budgets[key]))
                    for key in sorted(self.changed_budgets) if key in budgets]
        records += [(b"h|%d|%d|%b" % (tier, chunk, key.encode()),
                     chunk_json(values) if values else NULL)
                    for key, tier, chunk, values in self.history.take_changed()]
        scalars, sections = self.sections()
        entries: set[bytes] = set()
        for section, values in sections.items():
            prefix = b"s|%b|" % section.encode()
            for name, value in values.items():
                key = prefix + str(name).encode()
                entries.add(key)
                state = orjson.dumps(value)
                if self.log.stored(key) != state:
                    records.append((key, state))
        records += [(key, NULL) for key in sorted(self.entries - entries)]
        self.entries = entries
        self.changed.clear()
        self.changed_budgets.clear()

        def meta(seq: int, chunks: int) -> StoredState:
            return {"version": 2, "seq": seq, "offsets": self.offsets, "state": scalars,
                    "outbox": chunks, "delivery_seq": self.delivery_seq,
                    "published": {topic: {str(k): v for k, v in offsets.items()}
                                  for topic, offsets in self.published.items()}}

        return self.log.write(records, (orjson.dumps([t, msgspec.to_builtins(e)])
                                        for t, e in self.outbox), meta)

    @classmethod
    def restored(cls, slo_file: SloFile,
                 records: Iterable[tuple[bytes, bytes | None]]) -> IncidentState:
        """The state of the last complete checkpoint, from the latest record of each key."""
        state = cls.empty(slo_file)
        restored = state.log.restore(records)
        if restored is None:
            return state
        meta = restored.meta
        incidents: list[StoredState] = []
        budgets: list[StoredState] = []
        history: list[tuple[str, int, list[float]]] = []
        parts: dict[str, StoredState] = {
            part: dict(meta.get(part) or {})
            for part in ("book", "policy", "noise", "toil", "runbooks")}  # version 1
        for part, values in (meta.get("state") or {}).items():
            parts.setdefault(part, {}).update(values)
        pending: StoredState = {d["key"]: d for d in meta.get("pending") or []}
        for key, value in restored.entries.items():
            if key.startswith(b"i|"):
                incidents.append(value)
            elif key.startswith(b"b|"):
                budgets.append(value)
            elif key.startswith(b"h|"):
                tier, _, series = key[2:].decode().split("|", 2)
                history.append((series, int(tier), value))
            elif key.startswith(b"s|"):
                state.entries.add(key)
                section, name = key[2:].decode().split("|", 1)
                part, _, member = section.partition(".")
                if section == "pending":
                    pending[name] = value
                elif section == "capacity":
                    state.capacity[name] = msgspec.convert(value, CapacityEvent)
                else:
                    parts.setdefault(part, {}).setdefault(member, {})[name] = value
        restore_book(state.book, parts["book"], incidents)
        state.policies.restore(parts["policy"], budgets)
        state.history.restore(history, state.policies.budgets.values())
        state.noise.restore(parts["noise"])
        state.toil.restore(parts["toil"])
        state.runbooks = msgspec.convert(parts["runbooks"], RunbookState)
        state.offsets = {k: int(v) for k, v in meta["offsets"].items()}
        state.pending = {key: msgspec.convert(d, Delivery) for key, d in pending.items()}
        state.delivery_seq = int(meta.get("delivery_seq", 0))
        outbox = meta["outbox"] if isinstance(meta["outbox"], list) else restored.outbox
        state.outbox = [(str(topic), _output(event)) for topic, event in outbox]  # (version 1: in the meta)
        state.published = {topic: {int(k): int(v) for k, v in offsets.items()}
                           for topic, offsets in (meta.get("published") or {}).items()}
        return state
