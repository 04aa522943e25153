"""The live worker on a real broker: same alerts as backtest, dead letters, idle partitions."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from streams.domain.timestamps import parse_ts
from streams.synthetic.traffic import iter_jsonl, preset
from tests.conftest import assert_valid
from tests.integration.conftest import Live, send_requests, wait_for

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SLOS = ROOT / "examples" / "slos.yaml"


def key(alert: dict[str, object]) -> tuple[object, ...]:
    return (alert["at"], alert["id"], alert["status"])


def test_live_alerts_equal_backtest_alerts(live_factory: Callable[..., Live], tmp_path: Path) -> None:
    events = tmp_path / "outage.jsonl"
    scenario = preset("outage", start=parse_ts("2026-11-23T00:00:00Z"), duration=2 * 3600,
                      rate=25, seed=5)
    events.write_bytes(b"".join(iter_jsonl(scenario)))
    backtest = tmp_path / "backtest.jsonl"
    live = live_factory(SLOS)
    done = live.cli("backtest", "--quiet", "--slos", str(SLOS), "--events", str(events),
                    "--out", str(backtest))
    assert done.returncode == 0, done.stderr
    expected = sorted((orjson.loads(line) for line in backtest.read_bytes().splitlines()), key=key)
    assert any(a["rule"] == "page-fast" for a in expected)
    last_ts = max(orjson.loads(line)["ts"] for line in events.read_bytes().splitlines())

    live.start_worker()
    sent = live.cli("produce", "--events", str(events), "--batch", "50", "--quiet")
    assert sent.returncode == 0, sent.stderr

    def complete(alerts: list[dict[str, object]]) -> bool:
        return len([a for a in alerts if parse_ts(a["at"]) <= last_ts]) >= len(expected)

    alerts = live.collect(live.settings.topics.alerts, complete, timeout=180)
    within = sorted((a for a in alerts if parse_ts(a["at"]) <= last_ts), key=key)
    assert within == expected, live.logs()
    # After the input ends the idle partitions follow the clock: only resolutions may follow.
    assert all(a["status"] == "resolved" for a in alerts if parse_ts(a["at"]) > last_ts)
    for alert in alerts:
        assert_valid("sre.alerts", alert)



def test_bad_input_is_dead_lettered_and_valid_events_still_count(
    live_factory: Callable[..., Live],
) -> None:
    live = live_factory(SLOS, SRE_MAX_MESSAGE_BYTES="2048", SRE_BUDGET_INTERVAL="10s")
    live.start_worker()
    now = time.time()
    good = {"ts": now, "service": "catalog", "status": 200}
    k = b"catalog"
    send_requests(live, [
        (k, b"{not json"),
        (k, orjson.dumps({**good, "status": "200"})),
        (k, orjson.dumps({"ts": now, "slo": "no-such-slo", "good": 1, "total": 1})),
        (k, orjson.dumps({"ts": now, "slo": "catalog-availability", "good": -1, "total": 1})),
        (k, orjson.dumps([{**good, "pad": "x" * 3000}])),
        (k, orjson.dumps([good, {**good, "ts": "never"}, {**good, "ts": now + 1}])),
        (k, orjson.dumps({**good, "ts": now + 3600})),
        (k, orjson.dumps({**good, "ts": now + 20})),
    ])
    expected = {"invalid JSON", "status must be an integer", "unknown SLO 'no-such-slo'",
                "good must be >= 0", "message over the size limit", "invalid ts",
                "timestamp in the future"}

    def found(records: list[dict[str, object]]) -> bool:
        reasons = {str(r["reason"]) for r in records}
        return all(any(r.startswith(e) for r in reasons) for e in expected)

    records = live.collect(live.settings.topics.dead_letter, found, timeout=90)
    assert found(records), (records, live.logs())
    assert len(records) == len(expected)
    for record in records:
        assert_valid("sre.dead-letter", record)

    def counted(snapshots: list[dict[str, object]]) -> bool:
        return any(s["slo"] == "catalog-availability" and s["total"] == 3 for s in snapshots)

    snapshots = live.collect(live.settings.topics.budgets, counted, timeout=60)
    assert counted(snapshots), (snapshots[-3:], live.logs())
    assert live.workers[0].poll() is None


IDLE_SLOS = """
apiVersion: sre-streams/v1
alerting:
  quick:
    - {name: page-quick, severity: page, long: 2m, short: 30s, budget_percent: 5}
slos:
  - {name: api-availability, service: api, objective: 0.9, window: 1h, alerting: quick,
     sli: {availability: {}}}
"""


def test_an_alert_resolves_when_traffic_stops(live_factory: Callable[..., Live],
                                              tmp_path: Path) -> None:
    slos = tmp_path / "slos.yaml"
    slos.write_text(IDLE_SLOS)
    live = live_factory(slos, SRE_LATENESS="1s")
    live.start_worker()
    start = time.time() - 60
    # A minute of good traffic up to now, then a total outage as it happens, then silence.
    history = [(b"api", orjson.dumps([{"ts": start + i, "service": "api", "status": 200}
                                      for i in range(60)]))]
    send_requests(live, history)
    outage_until = time.time() + 25
    while time.time() < outage_until:
        send_requests(live, [(b"api", orjson.dumps(
            [{"ts": time.time(), "service": "api", "status": 503}]))])
        time.sleep(0.5)
    stopped = time.time()

    def resolved(alerts: list[dict[str, object]]) -> bool:
        return any(a["status"] == "resolved" for a in alerts)

    alerts = live.collect(live.settings.topics.alerts, resolved, timeout=120)
    assert [a["status"] for a in alerts] == ["firing", "resolved"], live.logs()
    resolved_at = parse_ts(alerts[1]["at"])
    # Resolved by the clock once the 30 s short window emptied of the outage.
    assert stopped < resolved_at <= stopped + 30 + 10


def test_two_workers_split_the_partitions_and_together_equal_one(
    live_factory: Callable[..., Live], tmp_path: Path
) -> None:
    events = tmp_path / "mixed.jsonl"
    scenario = preset("mixed", start=parse_ts("2026-11-23T00:00:00Z"), duration=2 * 3600,
                      rate=25, seed=9)
    events.write_bytes(b"".join(iter_jsonl(scenario)))
    live = live_factory(SLOS)
    backtest = tmp_path / "backtest.jsonl"
    done = live.cli("backtest", "--quiet", "--slos", str(SLOS), "--events", str(events),
                    "--out", str(backtest))
    assert done.returncode == 0, done.stderr
    expected = sorted((orjson.loads(line) for line in backtest.read_bytes().splitlines()), key=key)
    last_ts = max(orjson.loads(line)["ts"] for line in events.read_bytes().splitlines())

    live.start_worker("w1", wait=False)
    live.start_worker("w2", wait=False)

    def split() -> bool:
        """Both members hold partitions: produce only then, so that the split, not a rebalance,
        is tested."""
        held = [live.partitions(name) for name in ("w1", "w2")]
        return all(held) and sorted(held[0] + held[1]) == [0, 1, 2, 3]

    wait_for(split, 90, live, "the two workers to split the partitions (GET /healthz)")
    sent = live.cli("produce", "--events", str(events), "--batch", "50", "--quiet")
    assert sent.returncode == 0, sent.stderr

    def complete(alerts: list[dict[str, object]]) -> bool:
        return len([a for a in alerts if parse_ts(a["at"]) <= last_ts]) >= len(expected)

    alerts = live.collect(live.settings.topics.alerts, complete, timeout=180)
    within = sorted((a for a in alerts if parse_ts(a["at"]) <= last_ts), key=key)
    assert within == expected, live.logs()
    assert len({a["series"].get("region") for a in expected}) >= 1  # type: ignore[attr-defined]

