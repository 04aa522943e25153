"""State survives SIGKILL and moves with partitions: counts and alerts as if nothing happened."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from streams.domain.timestamps import parse_ts
from streams.domain.traffic import iter_jsonl, preset
from streams.kafka_io import read_after
from tests.integration.conftest import Live

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SLOS = ROOT / "examples" / "slos.yaml"

Message = dict[str, object]


@dataclass
class Expected:
    events: Path
    alerts: list[Message]
    budgets: set[bytes]
    last_ts: float


def expected_run(live: Live, tmp_path: Path, seed: int) -> Expected:
    """A two-hour outage scenario and what `backtest` makes of it."""
    events = tmp_path / "outage.jsonl"
    scenario = preset("outage", start=parse_ts("2026-11-23T00:00:00Z"), duration=2 * 3600,
                      rate=25, seed=seed)
    events.write_bytes(b"".join(iter_jsonl(scenario)))
    alerts, budgets = tmp_path / "alerts.jsonl", tmp_path / "budgets.jsonl"
    done = live.cli("backtest", "--quiet", "--slos", str(SLOS), "--events", str(events),
                    "--out", str(alerts), "--budgets", str(budgets))
    assert done.returncode == 0, done.stderr
    last_ts = max(orjson.loads(line)["ts"] for line in events.read_bytes().splitlines())
    return Expected(events, sorted(map(orjson.loads, alerts.read_bytes().splitlines()), key=order),
                    {canonical(orjson.loads(b)) for b in budgets.read_bytes().splitlines()}, last_ts)


def order(message: Message) -> tuple[object, ...]:
    return (message["at"], message.get("id"), message.get("status"), message.get("slo"),
            orjson.dumps(message.get("series"), option=orjson.OPT_SORT_KEYS))


def canonical(message: Message) -> bytes:
    return orjson.dumps(message, option=orjson.OPT_SORT_KEYS)


def read(live: Live, topic: str) -> list[Message]:
    return [orjson.loads(v) for v in asyncio.run(read_after(live.settings, topic, {}))]


def wait_for(what: Callable[[], bool], timeout: float, live: Live, doing: str) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {doing}\n{live.logs()}")
        time.sleep(0.3)


def assert_as_uninterrupted(live: Live, expected: Expected) -> None:
    """Alerts exactly once each; every budget snapshot equal to backtest's (repeats allowed)."""
    def complete() -> bool:
        alerts = [a for a in read(live, live.settings.topics.alerts)
                  if parse_ts(a["at"]) <= expected.last_ts]  # type: ignore[arg-type]
        return len(alerts) >= len(expected.alerts)

    wait_for(complete, 240, live, "all alerts")
    alerts = read(live, live.settings.topics.alerts)
    within = sorted((a for a in alerts if parse_ts(a["at"]) <= expected.last_ts), key=order)  # type: ignore[arg-type]
    brief = lambda a: (a["at"], a["slo"], a["series"], a["rule"], a["status"], round(a["burn_rate_long"], 3))  # noqa
    (live.workdir / "got.txt").write_text("\n".join(map(str, map(brief, within))))
    (live.workdir / "exp.txt").write_text("\n".join(map(str, map(brief, expected.alerts))))
    assert within == expected.alerts, ([brief(a) for a in within], [brief(a) for a in expected.alerts])

    def budgets_within() -> set[bytes]:
        return {canonical(b) for b in read(live, live.settings.topics.budgets)
                if parse_ts(b["at"]) <= expected.last_ts}  # type: ignore[arg-type]

    wait_for(lambda: budgets_within() >= expected.budgets, 120, live, "all budget snapshots")
    extra = sorted(budgets_within() - expected.budgets)
    assert not extra, (extra[:5], sorted(b for b in expected.budgets if b[:40] in {e[:40] for e in extra[:5]})[:10])


def kill(live: Live, index: int) -> None:
    process = live.workers[index]
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)


def test_sigkill_mid_stream_loses_nothing_and_repeats_no_alert(
    live_factory: Callable[..., Live], tmp_path: Path,
) -> None:
    live = live_factory(SLOS)
    expected = expected_run(live, tmp_path, seed=11)
    first_page = next(a for a in expected.alerts if a["status"] == "firing")
    sent = live.cli("produce", "--events", str(expected.events), "--batch", "50", "--quiet")
    assert sent.returncode == 0, sent.stderr

    live.start_worker("w1")
    # Killed while the outage pages: the restarted worker must not announce it again.
    wait_for(lambda: any(a["id"] == first_page["id"] for a in read(live, live.settings.topics.alerts)),
             120, live, "the first page")
    kill(live, 0)
    processed = len(read(live, live.settings.topics.budgets))
    live.start_worker("w1")
    assert_as_uninterrupted(live, expected)
    log = (tmp_path / "w1.log").read_text(errors="replace")
    assert "state restored at input offset" in log, log[-3000:]
    assert processed > 0


def test_state_moves_with_partitions_to_a_new_worker_and_a_survivor(
    live_factory: Callable[..., Live], tmp_path: Path,
) -> None:
    live = live_factory(SLOS)
    expected = expected_run(live, tmp_path, seed=12)
    sent = live.cli("produce", "--events", str(expected.events), "--batch", "50", "--quiet")
    assert sent.returncode == 0, sent.stderr

    live.start_worker("w1")
    wait_for(lambda: len(read(live, live.settings.topics.budgets)) > 200, 120, live,
             "the first worker to make progress")
    live.start_worker("w2")  # takes over half of the partitions, state included
    wait_for(lambda: "state restored at input offset" in (tmp_path / "w2.log").read_text(
        errors="replace"), 120, live, "the second worker to restore a partition")
    kill(live, 0)  # the survivor takes over the rest
    assert_as_uninterrupted(live, expected)
