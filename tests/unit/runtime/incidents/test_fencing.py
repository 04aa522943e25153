"""A leader that lost the lead without knowing yet stores and publishes nothing: the group's
offset commit is the fence (with a fake consumer and producer: no broker here)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import pytest
from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError, RequestTimedOutError

from streams.runtime.incidents.processor import IncidentProcessor
from streams.runtime.incidents.service import IncidentService
from tests.unit.conftest import T0
from tests.unit.runtime.fake_consumer import FakeConsumer
from tests.unit.runtime.incidents.conftest import SETTINGS, SLOS, page


class Producer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []

    async def send(self, topic: str, value: bytes, key: bytes | None = None) -> Any:
        self.sent.append((topic, value))
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.set_result(type("Metadata", (), {"partition": 0, "offset": len(self.sent)})())
        return future

    async def send_and_wait(self, topic: str, value: bytes, key: bytes | None = None,
                            partition: int | None = None) -> Any:
        return await (await self.send(topic, value, key))


def step_of(refuse: Exception | None, monkeypatch: pytest.MonkeyPatch
            ) -> tuple[bool, IncidentService, FakeConsumer, Producer]:
    async def run() -> tuple[bool, IncidentService, FakeConsumer, Producer]:
        service = IncidentService(SETTINGS, SLOS)
        consumer = FakeConsumer(refuse, TopicPartition(SETTINGS.topics.alerts, 0))
        producer = Producer()

        async def store(partition: int, _: object) -> None:  # the checkpoint, in send order
            producer.sent.append((service.changelog, b"checkpoint"))

        monkeypatch.setattr(service, "store", store)
        service.consumer, service.producer = consumer, producer  # type: ignore[assignment]
        processor = IncidentProcessor(SLOS, SETTINGS.topics, 60)
        service.processor = processor
        step = processor.apply([(SETTINGS.topics.alerts, 0, 7,
                                 orjson.dumps(page("eu", "firing", T0)))], time.time())
        stored = await service._commit(processor, step)
        return stored, service, consumer, producer
    return asyncio.run(run())


def test_a_member_of_an_old_generation_stores_and_publishes_nothing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    stored, service, _, producer = step_of(CommitFailedError("rebalanced"), monkeypatch)
    assert not stored and service.processor is None and producer.sent == []


def test_the_leader_commits_its_offsets_then_stores_and_publishes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    stored, service, consumer, producer = step_of(None, monkeypatch)
    assert stored and service.processor is not None
    assert consumer.committed == [{TopicPartition(SETTINGS.topics.alerts, 0): 8}]
    topics = [topic for topic, _ in producer.sent]
    assert topics.index(service.changelog) < topics.index(SETTINGS.topics.incidents)


def test_a_commit_failing_for_another_reason_does_not_stop_the_leader(
        monkeypatch: pytest.MonkeyPatch) -> None:
    stored, service, _, producer = step_of(RequestTimedOutError(), monkeypatch)
    assert stored and service.processor is not None and producer.sent
