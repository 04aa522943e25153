"""HTTP delivery of notifications: retries with backoff and jitter, per-receiver rate limits.

A delivery is one incident event for one receiver, identified by `delivery_key`. Outcomes:
delivered (2xx), retry later (network error, timeout, 429, 5xx), or dead (any other 4xx,
or retries exhausted): dead deliveries go to the dead-letter topic with the response.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Literal

import aiohttp
import msgspec
import orjson

from streams.domain.notify.receivers import Payload, Receiver
from streams.wire.codec import encode

Outcome = Literal["delivered", "retry", "dead"]
MAX_ATTEMPTS = 8
BASE_DELAY = 1.0
MAX_DELAY = 60.0


@dataclass(slots=True)
class Attempt:
    outcome: Outcome
    status: int | None
    detail: str
    retry_at: float | None = None


def backoff(attempt: int, rng: random.Random | None = None) -> float:
    """Seconds before retry `attempt` (1-based): exponential with full jitter, capped."""
    ceiling = min(MAX_DELAY, BASE_DELAY * 2 ** (attempt - 1))
    return (rng or random).uniform(ceiling / 2, ceiling)


class RateLimiter:
    """A token bucket per receiver: `rate_per_minute` sustained, bursts of up to a tenth."""

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}  # name -> (tokens, updated at)

    def wait_time(self, receiver: Receiver, now: float) -> float:
        """0 and a token taken when the receiver may be called now, else seconds to wait."""
        rate = receiver.rate_per_minute / 60.0
        burst = max(1.0, receiver.rate_per_minute / 10)
        tokens, updated = self._buckets.get(receiver.name, (burst, now))
        tokens = min(burst, tokens + (now - updated) * rate)
        if tokens >= 1:
            self._buckets[receiver.name] = (tokens - 1, now)
            return 0.0
        self._buckets[receiver.name] = (tokens, now)
        return (1 - tokens) / rate


async def send(session: aiohttp.ClientSession, receiver: Receiver, body: Payload,
               key: str, attempt: int, timeout: float = 10.0) -> Attempt:
    """One HTTP attempt; the outcome says what to do next."""
    data = (encode(body) if isinstance(body, msgspec.Struct)
            else orjson.dumps(msgspec.to_builtins(body)))  # (a list: Alertmanager's alerts)
    return await call(session, "POST", receiver.url, data, key, attempt,
                      name=receiver.name, timeout=timeout)


async def call(session: aiohttp.ClientSession, method: str, url: str, data: bytes, key: str,
               attempt: int, *, name: str, headers: dict[str, str] | None = None,
               timeout: float = 10.0) -> Attempt:
    """One HTTP request of a delivery (a notification, a runbook's action) with its
    `Idempotency-Key`; `name` stands for the URL in what is logged."""
    sent = {"Content-Type": "application/json", "Idempotency-Key": key,
            "User-Agent": "sre-streams", **(headers or {})}
    try:
        async with session.request(method, url, data=data, headers=sent,
                                   timeout=aiohttp.ClientTimeout(total=timeout)) as response:
            text = (await response.text(errors="replace"))[:1000]
            status = response.status
            retry_after = response.headers.get("Retry-After")
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        # The URL itself can be the secret (chat webhooks): never in a log or dead letter.
        detail = f"{type(exc).__name__}: {exc}".replace(url, f"<{name} URL>")
        return _retry(attempt, None, detail[:300])
    if 200 <= status < 300:
        return Attempt("delivered", status, text)
    if status == 429 or status >= 500:
        result = _retry(attempt, status, text)
        if retry_after and retry_after.isdigit() and result.retry_at is not None:
            result.retry_at = max(result.retry_at, time.time() + int(retry_after))
        return result
    return Attempt("dead", status, text)


def _retry(attempt: int, status: int | None, detail: str) -> Attempt:
    if attempt >= MAX_ATTEMPTS:
        return Attempt("dead", status, f"gave up after {attempt} attempts: {detail}")
    return Attempt("retry", status, detail, time.time() + backoff(attempt))
