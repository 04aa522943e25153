"""A worker whose partition moved without its knowing yet stores no more engine checkpoints:
the offset commit before each store is the fence (fake consumer, no broker here)."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import IllegalGenerationError, RequestTimedOutError

from streams.domain.engine.evaluation import EngineSettings
from streams.runtime.engine.partition import Output, PartitionProcessor
from streams.runtime.engine.service import EngineService
from tests.unit.runtime.fake_consumer import FakeConsumer
from tests.unit.runtime.incidents.conftest import SETTINGS, SLOS


def step(refuse: Exception | None) -> tuple[EngineService, PartitionProcessor, list[int]]:
    async def run() -> tuple[EngineService, PartitionProcessor, list[int]]:
        service = EngineService(SETTINGS, SLOS)
        stored: list[int] = []

        async def store(partition: int, _: object) -> None:
            stored.append(partition)

        service.store = store  # type: ignore[method-assign, assignment]
        service.consumer = FakeConsumer(refuse, TopicPartition(SETTINGS.topics.requests, 0))
        service.producer = object()
        proc = PartitionProcessor(SLOS, EngineSettings(), SETTINGS.topics.requests, 0,
                                  1 << 20, 60.0)
        proc.offset = 41
        service.processors[0] = proc
        await service._step(proc, Output())
        return service, proc, stored

    return asyncio.run(run())


def test_a_refused_commit_drops_the_step_and_the_partition() -> None:
    service, _, stored = step(IllegalGenerationError())
    assert stored == [] and 0 not in service.processors


@pytest.mark.parametrize("refuse", [None, RequestTimedOutError()])
def test_a_commit_taken_or_failing_for_another_reason_lets_the_step_be_stored(
        refuse: Exception | None) -> None:
    service, proc, stored = step(refuse)
    assert stored == [0] and service.processors[0] is proc
    if refuse is None:
        assert service.consumer.committed == [{TopicPartition(SETTINGS.topics.requests, 0): 42}]  # type: ignore[union-attr]
