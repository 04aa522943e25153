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


async def stop_clients(name: str, *clients: Any) -> None:
    """Stop aiokafka clients, each within STOP_GRACE seconds (see `finishing`)."""
    for client in clients:
        if client is None:
            continue
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
