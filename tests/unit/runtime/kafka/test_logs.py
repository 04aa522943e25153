"""The Kafka client's repeated complaints are summarised, not dropped silently."""

from __future__ import annotations

import logging

import pytest

from streams.runtime.kafka import logs
from streams.runtime.kafka.logs import Repeats, quiet_kafka_client


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_message_passes_once_per_interval_and_says_how_many_were_held(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock()
    monkeypatch.setattr(logs.time, "monotonic", clock)
    repeats = Repeats(every=10.0)

    def record(msg: str, level: int = logging.ERROR) -> logging.LogRecord:
        return logging.LogRecord("aiokafka", level, __file__, 1, msg, ("node 1",), None)

    passed = []
    for step in range(250):  # every 100 ms for 25 s
        clock.now = 1000.0 + step / 10
        item = record("Unable connect to node %s")
        if repeats.filter(item):
            passed.append((clock.now, item.getMessage()))
    assert [at for at, _ in passed] == [1000.0, 1010.0, 1020.0]
    assert passed[0][1] == "Unable connect to node node 1"
    assert passed[1][1] == "Unable connect to node node 1 [99 more like this in the last 10 s]"
    # Other messages, and the same one at another level, have their own count.
    assert repeats.filter(record("Unable to update metadata from %s"))
    assert repeats.filter(record("Unable connect to node %s", logging.WARNING))


def test_every_kafka_client_logger_gets_the_filter() -> None:
    repeats = quiet_kafka_client()
    try:
        for name in ("aiokafka", "aiokafka.conn", "aiokafka.consumer.fetcher",
                     "aiokafka.producer.sender"):
            assert repeats in logging.getLogger(name).filters, name
    finally:
        for name in list(logging.root.manager.loggerDict):
            if name.startswith("aiokafka"):
                logging.getLogger(name).removeFilter(repeats)
