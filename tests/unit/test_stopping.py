"""A service stops within its grace period even when the broker is gone (no broker here:
clients that never finish stand for aiokafka's, whose flush retries forever)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from streams.runtime import kafka_io
from streams.runtime.kafka_io import finishing, stop_clients


class Stuck:
    async def stop(self) -> None:
        await asyncio.Event().wait()


class Quick:
    def __init__(self) -> None:
        self.stopped = False

    async def stop(self) -> None:
        self.stopped = True


def test_a_step_that_never_ends_and_a_client_that_never_stops_do_not_hold_the_stop(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(kafka_io, "STOP_GRACE", 0.05)
    caplog.set_level(logging.WARNING)
    quick = Quick()

    async def scenario() -> bool:
        lock = asyncio.Lock()
        await lock.acquire()  # the step in hand, stuck in a flush
        stopping = False
        async with finishing(lock, "engine"):
            stopping = True
        await asyncio.wait_for(stop_clients("engine", Stuck(), None, quick), 5)
        return stopping

    assert asyncio.run(scenario())
    assert quick.stopped, "the clients after a stuck one are stopped too"
    messages = [r.getMessage() for r in caplog.records]
    assert any("step in hand did not finish" in m for m in messages), messages
    assert any("Stuck did not stop" in m for m in messages), messages


def test_a_step_that_ends_is_waited_for_and_its_lock_released() -> None:
    async def scenario() -> list[str]:
        lock = asyncio.Lock()
        order: list[str] = []

        async def step() -> None:
            async with lock:
                await asyncio.sleep(0.05)
                order.append("step stored")

        task = asyncio.create_task(step())
        await asyncio.sleep(0)
        async with finishing(lock, "engine"):
            order.append("stopping")
        assert not lock.locked()
        await task
        return order

    assert asyncio.run(scenario()) == ["step stored", "stopping"]
