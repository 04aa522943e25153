"""Stopping cleanly: the step in hand, Kafka clients and child processes, each within a grace time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
from collections.abc import AsyncIterator
from typing import Any

log = logging.getLogger(__name__)

STOP_GRACE = 10.0  # seconds a service waits for its step in hand, then for each client, at stop


@contextlib.asynccontextmanager
async def finishing(lock: asyncio.Lock, name: str) -> AsyncIterator[None]:
    """Hold `lock` at stop once the step in hand is done, or go on without it after
    STOP_GRACE (the broker gone, a flush would retry forever). A step cut short loses
    nothing: state counts only once its checkpoint is complete."""
    try:
        async with asyncio.timeout(STOP_GRACE):
            await lock.acquire()
    except TimeoutError:
        log.warning("%s: the step in hand did not finish within %.0f s (broker unreachable?): "
                    "stopping without it; it is done again from the last checkpoint",
                    name, STOP_GRACE)
        yield
        return
    try:
        yield
    finally:
        lock.release()


def leave_from_generation_zero(consumer: Any) -> None:
    """Make a group consumer leave its group at stop also in generation 0.

    aiokafka sends LeaveGroup only from a generation above 0, and some brokers (the bundled
    one) number a group's first generation 0: a worker stopped in it stayed a member until its
    session expired, and a worker started meanwhile waited for that (and, on the bundled
    broker, for a failed SyncGroup with the departed member named leader: 8-10 s more).
    LeaveGroup names the member, not the generation; the generation is set above 0 only once
    the heartbeats have stopped, for aiokafka's own leave.
    """
    coordinator: Any = getattr(consumer, "_coordinator", None)  # aiokafka's GroupCoordinator
    leave = getattr(coordinator, "_maybe_leave_group", None)
    if leave is None or getattr(leave, "from_generation_zero", False):
        return

    async def leave_group() -> None:
        if coordinator.generation == 0 and coordinator.member_id:
            coordinator.generation = 1
        await leave()

    leave_group.from_generation_zero = True  # type: ignore[attr-defined]
    coordinator._maybe_leave_group = leave_group


async def stop_clients(name: str, *clients: Any) -> None:
    """Stop aiokafka clients, each within STOP_GRACE seconds (see `finishing`); a group consumer
    leaves its group (`leave_from_generation_zero`)."""
    for client in clients:
        if client is None:
            continue
        leave_from_generation_zero(client)
        try:
            async with asyncio.timeout(STOP_GRACE):
                await client.stop()
        except TimeoutError:
            log.warning("%s: %s did not stop within %.0f s (broker unreachable?): left behind",
                        name, type(client).__name__, STOP_GRACE)


@contextlib.asynccontextmanager
async def running(client: Any) -> AsyncIterator[Any]:
    """A started aiokafka client, stopped on the way out, also when it failed to start."""
    try:
        await client.start()
        yield client
    finally:
        await client.stop()


def terminate(*processes: subprocess.Popen[bytes], grace: float, kill_wait: float = 5.0) -> None:
    """SIGTERM the process groups of these children (all at once), give each `grace` seconds
    to exit, then SIGKILL the group of any still running, and reap them all."""
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(kill_wait)
