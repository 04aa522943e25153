"""A calendar period on the live worker: killed before local midnight and restarted after,
it publishes the budget snapshots and alerts backtest computes, reset at the boundary."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from streams.domain.timestamps import parse_ts
from streams.synthetic.traffic import iter_jsonl, preset
from tests.integration.conftest import REPLAY_IDLE, Live, kill, read, wait_for
from tests.integration.test_recovery import Expected, assert_as_uninterrupted, canonical, order

pytestmark = pytest.mark.integration
MIDNIGHT = parse_ts("2026-11-30T23:00:00Z")  # 1 December in Berlin
SLOS = """apiVersion: sre-streams/v1
defaults: {min_events: 100}
slos:
  - name: checkout-availability
    service: checkout
    objective: 0.999
    sli: {availability: {}}
    group_by: [region]
    window: {calendar: month, timezone: Europe/Berlin}
  - name: search-availability
    service: search
    objective: 0.995
    sli: {availability: {}}
    window: {calendar: week, timezone: Europe/Berlin}
  - name: catalog-availability
    service: catalog
    objective: 0.999
    sli: {availability: {}}
"""


def test_live_snapshots_across_a_berlin_midnight_equal_backtest(
        live_factory: Callable[..., Live], tmp_path: Path) -> None:
    slos = tmp_path / "slos.yaml"
    slos.write_text(SLOS)
    events = tmp_path / "events.jsonl"
    scenario = preset("outage", start=MIDNIGHT - 1800, duration=3600, rate=8, seed=18)
    events.write_bytes(b"".join(iter_jsonl(scenario)))
    live = live_factory(slos, SRE_IDLE_TIMEOUT=REPLAY_IDLE)
    alerts, budgets = tmp_path / "alerts.jsonl", tmp_path / "budgets.jsonl"
    done = live.cli("backtest", "--quiet", "--slos", str(slos), "--events", str(events),
                    "--out", str(alerts), "--budgets", str(budgets))
    assert done.returncode == 0, done.stderr
    snapshots = [orjson.loads(line) for line in budgets.read_bytes().splitlines()]
    checkout = [s for s in snapshots if s["slo"] == "checkout-availability"]
    assert {(s["period_start"], s["period_end"]) for s in checkout} == {
        ("2026-10-31T23:00:00.000Z", "2026-11-30T23:00:00.000Z"),
        ("2026-11-30T23:00:00.000Z", "2026-12-31T23:00:00.000Z")}
    last_ts = max(orjson.loads(line)["ts"] for line in events.read_bytes().splitlines())
    expected = Expected(events, sorted(map(orjson.loads, alerts.read_bytes().splitlines()), key=order),
                        {canonical(s) for s in snapshots}, last_ts)
    lines = events.read_bytes().splitlines(keepends=True)
    cut = next(i for i, line in enumerate(lines) if orjson.loads(line)["ts"] > MIDNIGHT)
    before, after = tmp_path / "before.jsonl", tmp_path / "after.jsonl"
    before.write_bytes(b"".join(lines[:cut]))
    after.write_bytes(b"".join(lines[cut:]))

    live.start_worker("w1")
    sent = live.cli("produce", "--events", str(before), "--batch", "50", "--quiet")
    assert sent.returncode == 0, sent.stderr
    # the old month's last snapshots are out (stored with the state), then the worker dies
    wait_for(lambda: any(m["at"] == "2026-11-30T22:58:00.000Z"
                         for m in read(live, live.settings.topics.budgets, quiet_ms=200)),
             120, live, "the snapshots of the old month")
    kill(live, 0)
    live.start_worker("w1")
    sent = live.cli("produce", "--events", str(after), "--batch", "50", "--quiet")
    assert sent.returncode == 0, sent.stderr
    assert_as_uninterrupted(live, expected)
    log = (tmp_path / "w1.log").read_text(errors="replace")
    assert "state restored at input offset" in log, log[-3000:]
