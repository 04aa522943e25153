"""A live worker fed each poison message of the hostile-input issue stays up, dead-letters it
with its reason, counts what follows, and restarts past it."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from tests.integration.conftest import Live, kill, read, send_requests, wait_for

pytestmark = pytest.mark.integration
SLOS = Path(__file__).resolve().parents[2] / "examples" / "slos.yaml"



def _poison(now: float) -> list[tuple[bytes, bytes]]:
    deep = (b'[{"ts": %f, "service": "checkout", "region": "eu", "status": "bad", "x": ' % now
            + b'{"a": ' * 300 + b"1" + b"}" * 300 + b"}]")
    return [
        (b"checkout", deep),
        (b"checkout", orjson.dumps({"ts": now, "service": "checkout", "region": "r" * 900_000,
                                    "status": 500, "latency_ms": 1})),
        (b"checkout", orjson.dumps({"ts": now, "slo": "checkout-availability",
                                    "good": 2**64 - 1, "total": 2**64 - 1,
                                    "series": {"region": "eu"}})),
        (b"nobody", orjson.dumps({"ts": 0, "service": "nobody", "status": 200})),
        (b"nobody", orjson.dumps({"ts": now, "service": "nobody", "status": 200})),
    ]


EXPECTED = {"status must be an integer", "region longer than 256 characters",
            "good must be <= 1,000,000,000,000", "invalid ts: ts out of range (years 2000 to 9999)"}


def _healthy(live: Live, name: str) -> bool:
    try:
        with urllib.request.urlopen(f"{live.api[name]}/healthz", timeout=5) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def test_each_poison_message_is_dead_lettered_and_the_worker_restarts_past_them(
        live_factory: Callable[..., Live]) -> None:
    live = live_factory(SLOS, SRE_BUDGET_INTERVAL="10s")
    live.start_worker()
    now = time.time()
    good = [(b"catalog", orjson.dumps({"ts": now, "service": "catalog", "status": 200}))] * 3
    send_requests(live, [*_poison(now), *good])

    def dead_lettered(records: list[dict[str, object]]) -> bool:
        return {str(r["reason"]) for r in records} >= EXPECTED

    records = live.collect(live.settings.topics.dead_letter, dead_lettered, timeout=90)
    assert dead_lettered(records), (records, live.logs())

    def counted(snapshots: list[dict[str, object]]) -> bool:
        return any(s["slo"] == "catalog-availability" and s["total"] == 3 for s in snapshots)

    assert counted(live.collect(live.settings.topics.budgets, counted, timeout=60)), live.logs()
    assert live.workers[0].poll() is None and _healthy(live, "w1")

    # A restart reads on from its checkpoint: the poison is behind it, not a new failure.
    kill(live, 0)
    live.start_worker("w2")
    later = time.time()
    send_requests(live, [(b"catalog", orjson.dumps(
        {"ts": later, "service": "catalog", "status": 200}))])

    def counted_after() -> bool:  # `read`, not `collect`: the killed worker is one of `workers`
        return any(s["slo"] == "catalog-availability" and s["total"] == 4
                   for s in read(live, live.settings.topics.budgets, quiet_ms=300))

    wait_for(counted_after, 90, live, "the restarted worker counting what follows")
    wait_for(lambda: _healthy(live, "w2"), 30, live, "the restarted worker's API")
    assert live.workers[-1].poll() is None, live.logs()
    assert "Traceback" not in live.logs()
