"""Timings and outcomes the worker records as it goes, exposed on `/metrics` by the API.

The other metrics are computed at scrape time from the services' state (`streams.runtime.api`);
these are events that leave no state behind: how long each checkpoint took to store, and each
notification attempt with its outcome and duration. One worker runs per process, so they live
in the process, outside the default registry (the API's registry yields them).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client import Counter, Histogram
from prometheus_client.core import Metric

# Checkpoints are a flush and one more record: milliseconds on a healthy broker, seconds when
# it struggles (the buckets reach 30 s, past which the step lock starves everything else).
CHECKPOINT_SECONDS = Histogram(
    "sre_checkpoint_duration_seconds",
    "Time to store one checkpoint of a state (records, meta record, deletions) in its changelog.",
    ["state"], registry=None,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))
DELIVERIES = Counter(
    "sre_deliveries", "Notification attempts by receiver and outcome (delivered, retry, dead).",
    ["receiver", "outcome"], registry=None)
# A receiver is called with a 10 s timeout (`streams.integrations.delivery.send`).
DELIVERY_SECONDS = Histogram(
    "sre_delivery_duration_seconds", "Time of one notification attempt (HTTP request and answer).",
    ["receiver"], registry=None,
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))


OUTCOMES = ("delivered", "retry", "dead")  # as `streams.integrations.delivery.Outcome`


def expect_receivers(names: Iterable[str]) -> None:
    """Every configured receiver's series at 0 from the start: a counter first seen at 1 shows
    no increase to `rate()`, so a receiver's first failures would not count."""
    for name in names:
        for outcome in OUTCOMES:
            DELIVERIES.labels(name, outcome)
        DELIVERY_SECONDS.labels(name)


def record_delivery(receiver: str, outcome: str, seconds: float | None) -> None:
    """One attempt; `seconds` None when no request was made (the receiver is gone)."""
    DELIVERIES.labels(receiver, outcome).inc()
    if seconds is not None:
        DELIVERY_SECONDS.labels(receiver).observe(seconds)


def collect() -> Iterator[Metric]:
    """The families above, for the API's registry."""
    for metric in (CHECKPOINT_SECONDS, DELIVERIES, DELIVERY_SECONDS):
        yield from metric.collect()
