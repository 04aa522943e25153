"""The state of newly assigned input partitions, read while the group join waits where it can.

A worker that joins its input group waits for the broker to settle the group (half the
session timeout on the bundled broker: 3 s by default) and only then learns its partitions;
reading and loading their state came after that (10,000 series: 0.6 s to read, 1.5 s to
load). A worker usually gets back the partitions it held before it stopped, so it notes them
in its data directory on every assignment (`engine-partitions.json`) and, when it starts,
reads and loads the state of those while it waits for the join.

What was read ahead is used only if nothing was written to the partition's changelog since
(`written_since`): while this worker was away another one may have held the partition and
stored newer state. Partitions not read ahead, or written since, are read after the
assignment (`ReadAhead.restored`); what was read ahead for a partition not assigned is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import orjson
from aiokafka.errors import KafkaError

from streams.runtime.engine.partition import PartitionProcessor
from streams.runtime.settings import Settings
from streams.runtime.state.changelog import read_checkpoints, written_since

log = logging.getLogger(__name__)

HELD_FILE = "engine-partitions.json"  # in the data directory

Records = list[tuple[bytes, bytes | None]]
Loaded = dict[int, tuple[PartitionProcessor, int]]  # partition -> (its state, changelog end)


class ReadAhead:
    """The state of the partitions this worker held last, read while it joins its group."""

    def __init__(self, settings: Settings, changelog: str, meta_key: Callable[[int], bytes],
                 processor: Callable[[int], PartitionProcessor]) -> None:
        self.settings = settings
        self.changelog = changelog
        self.meta_key = meta_key
        self.processor = processor  # a new processor of a partition
        self.path = Path(settings.data_dir) / HELD_FILE
        self.task: asyncio.Task[Loaded] | None = None

    def start(self) -> None:
        """Begin reading the partitions held before, if any are known."""
        held = self.held_before()
        if held:
            self.task = asyncio.create_task(self._read(held))

    def held_before(self) -> list[int]:
        """The partitions the last assignment gave this worker (none if unknown, or noted for
        another app's changelog)."""
        try:
            noted = orjson.loads(self.path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return []
        if not isinstance(noted, dict) or noted.get("changelog") != self.changelog:
            return []
        partitions = noted.get("partitions")
        if not isinstance(partitions, list):
            return []
        return sorted({p for p in partitions if type(p) is int and p >= 0})

    def remember(self, partitions: list[int]) -> None:
        """Note the partitions assigned now, for the next start (best effort: a data directory
        that cannot be written costs the next start its read-ahead, nothing else)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_suffix(".tmp")
            temporary.write_bytes(orjson.dumps({"changelog": self.changelog,
                                                "partitions": partitions}))
            temporary.replace(self.path)
        except OSError as exc:
            log.warning("engine: cannot note the assigned partitions in %s (%s)", self.path, exc)

    async def _read(self, partitions: list[int]) -> Loaded:
        began = time.monotonic()
        ends: dict[int, int] = {}
        stored = await read_checkpoints(self.settings, self.changelog, partitions, self.meta_key,
                                        ends=ends)
        read = time.monotonic()
        loaded: Loaded = {}
        for partition in partitions:
            loaded[partition] = (self.load(partition, stored.pop(partition, [])), ends[partition])
            await asyncio.sleep(0)  # the group join goes on meanwhile
        log.info("input partitions %s: state read ahead in %.2f s, loaded in %.2f s", partitions,
                 read - began, time.monotonic() - read)
        return loaded

    def load(self, partition: int, records: Records) -> PartitionProcessor:
        """A partition's processor, restored from its changelog records."""
        proc = self.processor(partition)
        for warning in proc.restore(records):
            log.warning("partition %d: %s", partition, warning)
        return proc

    async def restored(self, partitions: list[int],
                       read: Callable[[list[int]], Awaitable[dict[int, Records]]],
                       ) -> list[PartitionProcessor]:
        """The processors of newly assigned partitions: the state read ahead where it is still
        the latest, the rest read (`read`) and loaded now."""
        ahead = await self.take(partitions)
        rest = [partition for partition in partitions if partition not in ahead]
        restored = list(ahead.values())
        if rest:
            began = time.monotonic()
            stored = await read(rest)
            read_at = time.monotonic()
            for partition in rest:
                restored.append(self.load(partition, stored.pop(partition, [])))
                await asyncio.sleep(0)  # a long restore lets the other partitions' steps through
            log.info("input partitions %s: state read in %.2f s, loaded in %.2f s", rest,
                     read_at - began, time.monotonic() - read_at)
        for proc in restored:
            if proc.offset >= 0:
                log.info("partition %d: state restored at input offset %d (%d series, "
                         "checkpoint %d%s)", proc.partition, proc.offset,
                         len(proc.engine.series), proc.seq,
                         ", read ahead" if proc.partition in ahead else "")
        return restored

    async def take(self, partitions: list[int]) -> dict[int, PartitionProcessor]:
        """The state read ahead of these (assigned) partitions that is still the latest; the
        read-ahead is over after this (it serves the first assignment only)."""
        task, self.task = self.task, None
        if task is None:
            return {}
        try:
            loaded = await task
        except Exception as exc:  # a read-ahead is an optimisation: the plain path decides
            log.info("engine: the read-ahead failed (%s: %s); reading after the assignment",
                     type(exc).__name__, exc)
            return {}
        mine = {p: loaded[p] for p in partitions if p in loaded}
        if not mine:
            return {}
        try:
            written = await written_since(self.settings, self.changelog,
                                          {p: end for p, (_, end) in mine.items()})
        except KafkaError as exc:
            log.info("engine: cannot check the state read ahead (%s); reading it again", exc)
            return {}
        if written:
            log.info("input partitions %s: stored again since they were read ahead; read anew",
                     sorted(written))
        return {p: proc for p, (proc, _) in mine.items() if p not in written}

    async def cancel(self) -> None:
        task, self.task = self.task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
