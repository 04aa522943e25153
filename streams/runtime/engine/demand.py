"""Capacity planning in the worker: each input partition's demand history, forecast every
hour of event time.

Input is keyed by service, so a service's request and count events all reach one partition,
whose meter holds its history. When event time (the engine's watermark) closes an hour, every
planned service and resource with history on the partition is assessed as of the end of that
hour and a capacity event is made. No Kafka here: the engine service publishes the events and
stores the state with the partition's checkpoint.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson

from streams.domain.capacity.alerts import runway_alert
from streams.domain.capacity.history import HOUR, meter_state, restore_meter
from streams.domain.capacity.messages import capacity_event
from streams.domain.capacity.runway import assess
from streams.domain.slo.model import SloFile
from streams.domain.timestamps import TimestampError, parse_ts
from streams.offline.capacity import meter_for
from streams.wire.alerts import Alert
from streams.wire.capacity import CapacityEvent, resource_event
from streams.wire.codec import WireError

STATE_PREFIX = b"c|"  # checkpoint entries of a partition's demand: its open hours (one entry)
OPEN_KEY = b"c|open"  # and each planned history (`c|h|[service, resource]`), written only
HISTORY_KEY = b"c|h|"  # when an hour closes: the history changes once an hour, not every step


class PartitionDemand:
    """The demand meter of one partition, and the capacity events its closed hours make."""

    def __init__(self, slo_file: SloFile) -> None:
        self.plans = slo_file.capacity
        self.meter = meter_for(slo_file)
        self.dirty = False
        self.closed_dirty = False  # an hour closed: the histories changed
        # capacity-runway alerts firing: (service, resource) -> when they started
        self.firing: dict[tuple[str, str | None], str] = {}

    def feed(self, events: Sequence[Any], refused: set[int]) -> None:
        """Count the events the engine accepted (by position; `refused` are left out)."""
        meter = self.meter
        for position, event in enumerate(events):
            if position in refused or type(event) is not dict:
                continue
            ts = event.get("ts")
            try:
                when = ts if type(ts) is float or type(ts) is int else parse_ts(ts)
            except TimestampError:
                continue
            slo = event.get("slo")
            if slo is None:
                meter.request(when, event.get("service"))  # type: ignore[arg-type]
            else:
                total = event.get("total")
                if type(total) is int:
                    meter.count(when, slo, float(total))
            self.dirty = True

    def feed_requests(self, ts: Sequence[float], services: Sequence[str],
                      refused: set[int]) -> None:
        """`feed` for a run of request events read a field at a time (the typed columns of the
        batch: no event decoded as a dict for this)."""
        request = self.meter.request
        for position, (when, service) in enumerate(zip(ts, services, strict=True)):
            if position not in refused:
                request(when, service)
                self.dirty = True

    def resources(self, events: Sequence[Any], not_after: float) -> list[tuple[int, str]]:
        """Count resource events (decoded JSON values); returns (position, reason) of those
        refused. Their hours close with the partition's event time (its request events)."""
        refused = []
        for position, value in enumerate(events):
            try:
                event = resource_event(value)
                ts = parse_ts(event.ts)
            except WireError as exc:
                refused.append((position, str(exc)))
                continue
            except TimestampError as exc:
                refused.append((position, f"invalid ts: {exc}"))
                continue
            if ts > not_after:
                refused.append((position, "timestamp in the future"))
                continue
            capacity = event.capacity if isinstance(event.capacity, float) else None
            self.meter.resource(ts, event.service, event.resource, event.used, capacity)
            self.dirty = True
        return refused

    def advance(self, watermark: float) -> tuple[list[CapacityEvent], list[Alert]]:
        """Close the hours event time has passed: capacity events as of the last one closed,
        and the `capacity-runway` alerts of services turning critical or leaving it."""
        if not math.isfinite(watermark):
            return [], []
        before = self.meter.closed_until
        self.meter.close(watermark)
        end = self.meter.closed_until
        if end <= before:
            return [], []
        self.dirty = self.closed_dirty = True
        events = []
        alerts = []
        for plan in self.plans:
            series = self.meter.history[plan.key]
            window = series.until(end)
            if window is None or not np.isfinite(window[1]).any():
                continue  # not this partition's service
            event = capacity_event(assess(plan, series, end * HOUR,
                                          self.meter.capacity.get(plan.key)))
            events.append(event)
            alert, since = runway_alert(event, plan.horizon / 86400, self.firing.get(plan.key))
            if alert is not None:
                alerts.append(alert)
            if since is None:
                self.firing.pop(plan.key, None)
            else:
                self.firing[plan.key] = since
        return events, alerts

    def take_state(self) -> list[tuple[bytes, bytes]]:
        """The checkpoint entries that changed since the last checkpoint."""
        if not self.dirty:
            return []
        self.dirty = False
        firing = [[service, resource, since] for (service, resource), since in self.firing.items()]
        entries = [(OPEN_KEY, orjson.dumps({"meter": meter_state(self.meter), "firing": firing}))]
        if self.closed_dirty:
            self.closed_dirty = False
            entries += [(HISTORY_KEY + orjson.dumps(list(key)), orjson.dumps(series.to_dict()))
                        for key, series in self.meter.history.items()
                        if series.values is not None]
        return entries

    def restore(self, entries: dict[bytes, Any]) -> None:
        """Load the entries `take_state` wrote (by key)."""
        state = entries.get(OPEN_KEY)
        if state is None:
            return
        histories = {}
        for key, data in entries.items():
            if key.startswith(HISTORY_KEY):
                service, resource = orjson.loads(key[len(HISTORY_KEY):])
                histories[(service, resource)] = data
        restore_meter(self.meter, state["meter"], histories)
        self.firing = {(service, resource): since for service, resource, since in state["firing"]
                       if (service, resource) in self.meter.history}
