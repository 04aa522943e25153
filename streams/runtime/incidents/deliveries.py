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
from streams.integrations.delivery import Attempt, RateLimiter, send
from streams.runtime.incidents.state import Delivery
from streams.runtime.settings import secret

Outcome = tuple[Delivery, Attempt | None]  # a delivery and its attempt (None: nothing to send)


def receiver_queues(pending: Mapping[str, Delivery]) -> dict[str, list[Delivery]]:
    """Pending deliveries by receiver, each queue in the order their events happened."""
    queues: dict[str, list[Delivery]] = {}
    for delivery in sorted(pending.values(), key=lambda d: d.seq):
        queues.setdefault(delivery.receiver, []).append(delivery)
    return queues


class DeliveryScheduler:
    """HTTP attempts of pending deliveries, within each receiver's rate limit."""

    def __init__(self, notify: NotifyConfig, api_url: str = "") -> None:
        self.notify = notify
        self.api_url = api_url  # the worker's API (Alertmanager's generatorURL)
        self.limiter = RateLimiter()

    async def attempt(self, session: aiohttp.ClientSession,
                      pending: Mapping[str, Delivery], now: float) -> list[Outcome]:
        """One round over every receiver's queue; the outcomes of the attempts made."""
        results = await asyncio.gather(*(self._deliver_to(session, name, queue, now)
                                         for name, queue in receiver_queues(pending).items()))
        return [outcome for result in results for outcome in result]

    async def _deliver_to(self, session: aiohttp.ClientSession, name: str,
                          queue: list[Delivery], now: float) -> list[Outcome]:
        receiver = self.notify.receivers.get(name)
        done: list[Outcome] = []
        for delivery in queue:
            if receiver is None:  # removed from the configuration since the event
                done.append((delivery, Attempt("dead", None, f"no receiver {name!r} configured")))
                continue
            if (delivery.not_before or 0.0) > now or self.limiter.wait_time(receiver, now) > 0:
                break
            key = secret(receiver.routing_key_env) if receiver.routing_key_env else (
                receiver.routing_key)
            body = payload(receiver, delivery.event, key, now=time.time(), api_url=self.api_url)
            if body is None:
                done.append((delivery, None))  # nothing for this receiver (e.g. PagerDuty updates)
                continue
            attempt = await send(session, receiver, body, delivery.key, delivery.attempt + 1)
            done.append((delivery, attempt))
            if attempt.outcome == "retry":
                break
        return done
