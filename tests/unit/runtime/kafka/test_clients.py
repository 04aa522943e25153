"""The services' consumer group timing follows SRE_SESSION_TIMEOUT."""

from __future__ import annotations

import pytest

from streams.runtime.kafka.clients import group_timing
from streams.runtime.settings import Settings


@pytest.mark.parametrize(("session", "expected"), [
    ("6s", {"session_timeout_ms": 6000, "heartbeat_interval_ms": 1000}),
    ("45s", {"session_timeout_ms": 45000, "heartbeat_interval_ms": 1000}),  # at most a second
    ("2s", {"session_timeout_ms": 2000, "heartbeat_interval_ms": 333}),  # a sixth of it
    ("0.3s", {"session_timeout_ms": 300, "heartbeat_interval_ms": 100}),  # at least 100 ms
])
def test_the_heartbeat_is_a_sixth_of_the_session_within_bounds(
        session: str, expected: dict[str, int]) -> None:
    assert group_timing(Settings.load({"session_timeout": session})) == expected


def test_the_default_session_is_the_least_a_kafka_broker_accepts_by_default() -> None:
    assert group_timing(Settings.load({}))["session_timeout_ms"] == 6000
