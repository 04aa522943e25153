"""A stopped worker leaves its consumer groups at once, also in a group's first generation
(numbered 0 by the bundled broker, where aiokafka sends no LeaveGroup): a worker started
after it does not wait for the stopped one's session to expire."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from streams.runtime.kafka.clients import client_options
from tests.integration.conftest import Live

ROOT = Path(__file__).resolve().parents[2]


def members(live: Live, group: str) -> int:
    async def run() -> int:
        admin = AIOKafkaAdminClient(**client_options(live.settings))
        await admin.start()
        try:
            described = await admin.describe_consumer_groups([group])  # (error, id, state,
            # protocol type, protocol, members, ...) per group
            return sum(len(group[5]) for response in described for group in response.groups)
        finally:
            await admin.close()

    return asyncio.run(run())


def test_a_stopped_worker_leaves_its_groups_from_the_first_generation(
    live_factory: Callable[..., Live],
) -> None:
    # A member left behind stays for its session (12 s) after the stop; the stop takes 1-2 s.
    # (The bundled broker holds a join for half of it: 6 s.)
    live = live_factory(ROOT / "examples" / "slos.yaml", SRE_SESSION_TIMEOUT="12s")
    worker = live.start_worker("w1")
    app = live.env["SRE_APP_ID"]  # the worker's (the test's own settings keep the default)
    groups = [f"{app}-requests", f"{app}-incidents"]
    assert [members(live, group) for group in groups] == [1, 1]
    os.killpg(worker.pid, signal.SIGTERM)
    assert worker.wait(30) == 0
    assert [members(live, group) for group in groups] == [0, 0]
