"""A service stops within its grace period even when the broker is gone (no broker here:
clients that never finish stand for aiokafka's, whose flush retries forever); a child process
gets SIGTERM, then SIGKILL after its grace time."""

from __future__ import annotations

import asyncio
import logging
import signal
import subprocess
import sys

import pytest

from streams.runtime.kafka import lifecycle
from streams.runtime.kafka.lifecycle import finishing, stop_clients, terminate


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
    monkeypatch.setattr(lifecycle, "STOP_GRACE", 0.05)
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


def _child(code: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, "-c", code], start_new_session=True,
                               stdout=subprocess.PIPE)
    assert process.stdout is not None
    process.stdout.readline()  # the child says when its signal handling is in place
    return process


def test_terminate_stops_a_child_with_sigterm() -> None:
    child = _child("import time; print('ready', flush=True); time.sleep(60)")
    terminate(child, grace=10.0)
    assert child.returncode == -signal.SIGTERM


def test_terminate_kills_a_child_that_ignores_sigterm_after_the_grace_time() -> None:
    child = _child("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                   "print('ready', flush=True); time.sleep(60)")
    terminate(child, grace=0.2)
    assert child.returncode == -signal.SIGKILL


def test_terminate_leaves_a_child_that_has_exited_alone() -> None:
    child = _child("print('ready', flush=True)")
    child.wait(10)
    terminate(child, grace=0.2)
    assert child.returncode == 0
