"""Pending deliveries attempted: each receiver's in event order, receivers side by side.

A receiver's queue stops at its first delivery that is not due, rate-limited or failing: it
holds back the rest, so a resolve never overtakes its trigger. The outcomes go back to the
incident processor (`IncidentProcessor.record`), which stores them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

import aiohttp

from streams.domain.notify.receivers import NotifyConfig, payload
from streams.domain.toil.config import ToilConfig
from streams.integrations.delivery import Attempt, RateLimiter, send
from streams.runtime.incidents.state import Delivery
from streams.runtime.incidents.toil import RUNBOOK, is_runbook, run_runbook
from streams.runtime.settings import secret
from streams.runtime.telemetry import expect_receivers, record_delivery

Outcome = tuple[Delivery, Attempt | None]  # a delivery and its attempt (None: nothing to send)


def receiver_queues(pending: Mapping[str, Delivery]) -> dict[str, list[Delivery]]:
    """Pending deliveries by receiver, each queue in the order their events happened."""
    queues: dict[str, list[Delivery]] = {}
    for delivery in sorted(pending.values(), key=lambda d: d.seq):
        queues.setdefault(delivery.receiver, []).append(delivery)
    return queues


class DeliveryScheduler:
    """HTTP attempts of pending deliveries, within each receiver's rate limit."""

    def __init__(self, notify: NotifyConfig, api_url: str = "",
                 toil: ToilConfig | None = None) -> None:
        self.notify = notify
        self.api_url = api_url  # the worker's API (Alertmanager's generatorURL)
        self.toil = toil or ToilConfig()
        self.runbooks = {book.name: book for book in self.toil.runbooks}
        self.limiter = RateLimiter()
        expect_receivers(notify.receivers)

    async def attempt(self, session: aiohttp.ClientSession,
                      pending: Mapping[str, Delivery], now: float) -> list[Outcome]:
        """One round over every receiver's queue; the outcomes of the attempts made."""
        results = await asyncio.gather(*(self._deliver_to(session, name, queue, now)
                                         for name, queue in receiver_queues(pending).items()))
        return [outcome for result in results for outcome in result]

    async def _deliver_to(self, session: aiohttp.ClientSession, name: str,
                          queue: list[Delivery], now: float) -> list[Outcome]:
        if is_runbook(name):
            return await self._run(session, name[len(RUNBOOK):], queue, now)
        receiver = self.notify.receivers.get(name)
        done: list[Outcome] = []
        for delivery in queue:
            if receiver is None:  # removed from the configuration since the event
                done.append((delivery, Attempt("dead", None, f"no receiver {name!r} configured")))
                record_delivery(name, "dead", None)
                continue
            if (delivery.not_before or 0.0) > now or self.limiter.wait_time(receiver, now) > 0:
                break
            key = secret(receiver.routing_key_env) if receiver.routing_key_env else (
                receiver.routing_key)
            body = payload(receiver, delivery.event, key, now=time.time(), api_url=self.api_url)
            if body is None:
                done.append((delivery, None))  # nothing for this receiver (e.g. PagerDuty updates)
                continue
            started = time.monotonic()
            attempt = await send(session, receiver, body, delivery.key, delivery.attempt + 1)
            record_delivery(name, attempt.outcome, time.monotonic() - started)
            done.append((delivery, attempt))
            if attempt.outcome == "retry":
                break
        return done

    async def _run(self, session: aiohttp.ClientSession, name: str, queue: list[Delivery],
                   now: float) -> list[Outcome]:
        """A runbook's runs in order (its limit is `max_per_hour`, decided when they start)."""
        done: list[Outcome] = []
        for delivery in queue:
            if (delivery.not_before or 0.0) > now:
                break
            attempt = await run_runbook(session, self.runbooks.get(name), delivery.event,
                                        delivery.key, delivery.attempt + 1, self.toil.dry_run)
            done.append((delivery, attempt))
            if attempt.outcome == "retry":
                break
        return done
