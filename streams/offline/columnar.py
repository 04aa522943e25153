"""Typed decoding of request messages straight into per-field columns, for throughput.

`orjson.loads` builds a dict per event holding every field; the classifier then reads the
few fields the SLOs use back out of each dict. Here the messages of a batch are joined into
one JSON array and decoded by msgspec into small typed records holding only those fields
(ts, service, status, latency_ms, the group_by and match keys, and whether `slo` or `ok`
is present); the classifier reads them a field at a time (`streams.domain.engine.typed`).

It only takes batches it decodes exactly as `streams.offline.decoding` would: every message
valid JSON for orjson, all objects (or all non-empty arrays of objects) with the fields of
the expected types. Anything else returns None and the caller decodes with orjson, which owns
every refusal and dead-letter reason. msgspec accepts a few documents orjson refuses (invalid
UTF-8 and numbers beyond a double in fields it skips), so those are screened out first.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from itertools import accumulate, chain
from operator import attrgetter
from types import ModuleType
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt
import orjson

from streams.domain.slo.model import Slo
from streams.offline.decoding import DecodedBatch, decode_batch

_columns: ModuleType | None
try:  # the compiled decoder (`_columns.c`); without it, msgspec records
    from streams.offline import _columns
except ImportError:  # pragma: no cover - the package built without its extension
    _columns = None

# Numbers orjson refuses as beyond a double (msgspec skips them unread in fields it does not
# keep): an exponent of three digits or more (JSON puts a digit before it), or, with at most
# two exponent digits, over 200 digits before the point. Found on a copy of the batch with
# every digit made 0, e and E made e, signs s and token ends `,` (C passes over bytes);
# conservative: text that looks alike sends the batch to orjson too, which is exact.
_NUMERIC = bytes(
    ord("0") if 48 <= c <= 57 else ord("e") if c in b"eE" else
    ord("s") if c in b"+-" else ord(",") if c in b",}] \t\r\n" else ord("x")
    for c in range(256))
_EXPONENT = re.compile(rb"0es?000+(?:,|$)")
_LONG_RUN = b"0" * 200
_FIXED = ("ts", "service", "slo", "ok", "status", "latency_ms")
_MISSING = -1  # status of an event without one (out of range: never counted column-wise)


class FieldSchema:
    """The record type for the fields a set of SLOs reads, and its decoders."""

    def __init__(self, slos: Sequence[Slo]) -> None:
        labels = sorted({key for slo in slos for key in slo.group_by})
        matched = sorted({key for slo in slos for key, _ in slo.match})
        # Keys named like a fixed field, or match values that are not strings, would need the
        # generic decoding's types: such files always take the orjson path.
        self.usable = (not set(labels + matched) & set(_FIXED)
                       and all(type(value) is str for slo in slos for _, value in slo.match))
        fields: list[tuple[str, Any, Any]] = [
            ("ts", float, msgspec.NODEFAULT), ("service", str, msgspec.NODEFAULT),
            ("slo", Any, msgspec.UNSET), ("ok", Any, msgspec.UNSET), ("status", int, _MISSING),
            ("latency_ms", float, math.nan)]
        rename = {name: name for name, _, _ in fields}
        self._attribute: dict[str, str] = {name: name for name, _, _ in fields}
        for n, key in enumerate(dict.fromkeys(labels + matched)):
            attribute = f"k{n}"
            # Labels default to "" as the classifiers read them; a match key tells a missing
            # field from an empty string.
            fields.append((attribute, str | msgspec.UnsetType,
                           msgspec.UNSET if key in matched else ""))
            rename[attribute] = key
            self._attribute[key] = attribute
        self.labels = frozenset(labels)
        self._keys = tuple(dict.fromkeys(labels + matched))  # the compiled decoder's extra keys
        self.compiled = _columns is not None
        self.record: type = msgspec.defstruct("Event", fields, rename=rename, gc=False)
        self._object = msgspec.json.Decoder(self.record)
        self._array = msgspec.json.Decoder(list[self.record])  # type: ignore[name-defined]

    def getter(self, key: str) -> attrgetter[Any]:
        return attrgetter(self._attribute[key])

    def decode(self, values: Sequence[bytes | None], *,
               max_bytes: int | None = None) -> FieldBatch | ColumnBatch | None:
        """The events of messages that are all single events or all non-empty arrays of them,
        with the message ends (see `DecodedBatch.ends`); None for anything else."""
        if not self.usable or not values:
            return None
        try:
            if max_bytes is not None and max(map(len, values)) > max_bytes:  # type: ignore[arg-type]
                return None
            if self.compiled:
                columns = self._compiled(values)
                if columns is not None:
                    return columns
            # Checks over the whole batch at once (neither pattern spans a line break): orjson
            # refuses invalid UTF-8 anywhere, msgspec only in the fields it reads.
            joined = b"\n".join(values)  # type: ignore[arg-type]
            if not joined.isascii():
                joined.decode()
            if _huge_number(joined):
                return None
        except (TypeError, UnicodeDecodeError):  # an empty message, or not UTF-8
            return None
        return self._records(values)

    def _compiled(self, values: Sequence[bytes | None]) -> ColumnBatch | None:
        """The compiled decoder's columns, None where it declines."""
        assert _columns is not None
        found = _columns.decode(values if type(values) is list else list(values), self._keys)
        if found is None:
            return None
        ends, ts, status, latency, service, extra = found
        if values[0].lstrip()[:1] == b"{":  # type: ignore[union-attr]
            ends = range(1, len(ends) + 1)
        factors = {"service": service, **dict(zip(self._keys, extra, strict=True))}
        return ColumnBatch(self, ends, {"ts": np.frombuffer(ts, dtype=np.float64),
                                        "latency_ms": np.frombuffer(latency, dtype=np.float64)},
                           np.frombuffer(status, dtype=np.int64),
                           {key: (distinct, np.frombuffer(codes, dtype=np.int64))
                            for key, (distinct, codes) in factors.items()})

    def _records(self, values: Sequence[bytes | None]) -> FieldBatch | None:
        """msgspec records of messages screened for what orjson refuses."""
        # Each message decoded on its own (as one JSON document, exactly as orjson reads it).
        first = values[0].lstrip()[:1]  # type: ignore[union-attr]
        try:
            if first == b"{":
                records = list(map(self._object.decode, values))  # type: ignore[arg-type]
                return FieldBatch(self, records, range(1, len(records) + 1))
            if first == b"[":
                arrays = list(map(self._array.decode, values))  # type: ignore[arg-type]
                if not all(arrays):
                    return None
                return FieldBatch(self, list(chain.from_iterable(arrays)),
                                  list(accumulate(map(len, arrays))))
        except (msgspec.DecodeError, RecursionError):
            # Not all alike, a value of another type, or JSON orjson may refuse: its path decides.
            return None
        return None


def _huge_number(text: bytes) -> bool:
    """Whether `text` may hold a number beyond a double (see _NUMERIC)."""
    numeric = text.translate(_NUMERIC)
    return _LONG_RUN in numeric or _EXPONENT.search(numeric) is not None


class FieldBatch:
    """Decoded events as records; columns are read on demand and kept."""

    def __init__(self, schema: FieldSchema, records: list[Any], ends: Sequence[int]) -> None:
        self.schema = schema
        self.records = records
        self.ends = ends
        self._values: dict[str, list[Any]] = {}
        self._floats: dict[str, npt.NDArray[np.float64]] = {}

    def __len__(self) -> int:
        return len(self.records)

    def values(self, key: str) -> list[Any]:
        """The field of every event, in order (labels "" when missing)."""
        column = self._values.get(key)
        if column is None:
            column = list(map(self.schema.getter(key), self.records))
            if key in self.schema.labels and msgspec.UNSET in column:
                column = ["" if value is msgspec.UNSET else value for value in column]
            self._values[key] = column
        return column

    def present(self, key: str) -> bool:
        """Whether any event holds the field (for `slo` and `ok`)."""
        return self.values(key).count(msgspec.UNSET) != len(self.records)

    def floats(self, key: str) -> npt.NDArray[np.float64]:
        """ts or latency_ms as an array (latency_ms NaN when missing), read once."""
        column = self._floats.get(key)
        if column is None:
            column = self._floats[key] = np.fromiter(
                map(self.schema.getter(key), self.records), dtype=np.float64,
                count=len(self.records))
        return column

    def ints(self, key: str) -> npt.NDArray[np.int64] | None:
        """status as an array (-1 when missing); None if one is beyond 64 bits."""
        try:
            return np.fromiter(map(self.schema.getter(key), self.records), dtype=np.int64,
                               count=len(self.records))
        except OverflowError:
            return None

    def factors(self, key: str) -> tuple[list[Any], npt.NDArray[np.int64]]:
        """A string field's distinct values in order of first appearance (labels "" when
        missing, other keys msgspec.UNSET), and each event's index among them."""
        values = self.values(key)
        index = {value: i for i, value in enumerate(dict.fromkeys(values))}
        return list(index), np.fromiter(map(index.__getitem__, values), dtype=np.int64,
                                        count=len(values))

    def slice(self, begin: int, end: int) -> FieldBatch:
        """Events begin..end-1 (message ends are not carried over)."""
        return FieldBatch(self.schema, self.records[begin:end], ())


class ColumnBatch:
    """Events as the compiled decoder gives them: number columns, and string fields as their
    distinct values with a code per event. The same reads as `FieldBatch`."""

    def __init__(self, schema: FieldSchema, ends: Sequence[int],
                 floats: dict[str, npt.NDArray[np.float64]], status: npt.NDArray[np.int64],
                 factors: dict[str, tuple[list[Any], npt.NDArray[np.int64]]]) -> None:
        self.schema = schema
        self.ends = ends
        self._floats = floats
        self._status = status
        self._factors = factors  # codes -1 where missing, until read by `factors`
        self._values: dict[str, list[Any]] = {}

    def __len__(self) -> int:
        return len(self._status)

    def factors(self, key: str) -> tuple[list[Any], npt.NDArray[np.int64]]:
        """As `FieldBatch.factors` (a missing value has the code of "" or of UNSET)."""
        distinct, codes = self._factors[key]
        missing = codes < 0
        if missing.any():
            absent = "" if key in self.schema.labels else msgspec.UNSET
            distinct = list(distinct)
            if absent not in distinct:
                distinct.append(absent)
            codes = np.where(missing, distinct.index(absent), codes)
            self._factors[key] = distinct, codes
        return distinct, codes

    def values(self, key: str) -> list[Any]:
        column = self._values.get(key)
        if column is None:
            distinct, codes = self.factors(key)
            column = self._values[key] = list(map(distinct.__getitem__, codes.tolist()))
        return column

    def present(self, key: str) -> bool:
        """`slo` and `ok`: never (the compiled decoder declines them)."""
        return False

    def floats(self, key: str) -> npt.NDArray[np.float64]:
        return self._floats[key]

    def ints(self, key: str) -> npt.NDArray[np.int64] | None:
        return self._status

    def slice(self, begin: int, end: int) -> ColumnBatch:
        """Events begin..end-1 (message ends are not carried over)."""
        factors = {key: self.factors(key) for key in self._factors}
        return ColumnBatch(self.schema, (), {k: v[begin:end] for k, v in self._floats.items()},
                           self._status[begin:end],
                           {key: (distinct, codes[begin:end])
                            for key, (distinct, codes) in factors.items()})


class Deferred(Sequence[Any]):
    """Events begin..end-1 of a batch decoded by `FieldSchema`, as dicts decoded only when
    read (needed only when the typed columns are declined, or an event is looked at alone).
    The first few reads decode their message alone; past that, the batch is decoded whole."""

    _ALONE = 64  # reads of single messages before the whole batch is decoded

    def __init__(self, values: Sequence[bytes | None], ends: Sequence[int], begin: int = 0,
                 end: int | None = None, shared: dict[int, Any] | None = None) -> None:
        self._values = values
        self._ends = ends
        self._begin = begin
        self._end = ends[-1] if end is None else end
        # message index -> its decoded value; -1 -> every event of the batch, once decoded
        self._shared: dict[int, Any] = {} if shared is None else shared

    def __len__(self) -> int:
        return self._end - self._begin

    def view(self, begin: int, end: int) -> Deferred:
        """Events begin..end-1 of this sequence (sharing what is decoded)."""
        return Deferred(self._values, self._ends, self._begin + begin, self._begin + end,
                        self._shared)

    def __getitem__(self, index: Any) -> Any:
        shared = self._shared
        if -1 not in shared and len(shared) >= self._ALONE:
            shared[-1] = decode_batch(self._values).events
        if isinstance(index, slice):
            if -1 not in shared:
                return [self[i] for i in range(*index.indices(len(self)))]
            return shared[-1][self._begin:self._end][index]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        event = self._begin + index
        if -1 in shared:
            return shared[-1][event]
        message = bisect_right(self._ends, event)
        found = shared.get(message)
        if found is None:
            found = shared[message] = orjson.loads(self._values[message])  # type: ignore[arg-type]
        if type(found) is list:
            return found[event - (self._ends[message - 1] if message else 0)]
        return found

    def __iter__(self) -> Iterator[Any]:
        shared = self._shared
        if -1 not in shared:
            shared[-1] = decode_batch(self._values).events
        return iter(shared[-1][self._begin:self._end])


def deferred_batch(values: Sequence[bytes | None],
                   fields: FieldBatch | ColumnBatch) -> DecodedBatch:
    """The batch `fields` was decoded from as `decode_batch` gives it, its dict events decoded
    only if they are read (the typed columns declined, or an event refused)."""
    return DecodedBatch(Deferred(values, fields.ends), fields.ends,
                        values if type(fields.ends) is range else [None] * len(values), {})
