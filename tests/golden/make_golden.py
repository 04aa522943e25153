"""Generate the golden backtest inputs and record their outputs.

The inputs are made once from a fixed seed and kept; `--record` writes the outputs the
current code produces for them. The golden test then holds every later change of the code
to those bytes. Run from the project root: `python -m tests.golden.make_golden [--record]`.
"""

from __future__ import annotations

import gzip
import random
import sys
from pathlib import Path

import orjson

HERE = Path(__file__).parent
START = 1_795_000_000  # 2026-11-18T..Z, on no round boundary of any window

SLOS = """\
apiVersion: sre-streams/v1
defaults:
  window: 7d
  alerting: multiwindow
  min_events: 50
slos:
  - name: checkout-availability
    service: checkout
    objective: 99.5%
    sli:
      availability:
        bad_status: ["5xx", 429]
    group_by: [region]
    max_series: 3
    labels: {team: payments}
    runbook_url: https://runbooks.example/checkout
  - name: checkout-orders-latency
    service: checkout
    objective: 0.98
    sli:
      latency: {threshold_ms: 300}
    match: {operation: "POST /orders"}
  - name: search-availability
    service: search
    objective: 0.99
    window: 1d
    min_events: 0
    sli:
      availability: {}
  - name: lb-availability
    service: edge
    objective: 0.995
    sli:
      availability: {}
    group_by: [zone]
alerting:
  multiwindow:
    - {name: page-fast,   severity: page,   long: 1h, short: 5m,  budget_percent: 2}
    - {name: page-slow,   severity: page,   long: 6h, short: 30m, budget_percent: 5}
    - {name: ticket-fast, severity: ticket, long: 1d, short: 2h,  budget_percent: 10}
"""

REGIONS = ["eu", "us", "ap", "sa", "af"]  # five values, three series: __other__ is exercised
OPERATIONS = ["POST /orders", "GET /cart", "GET /orders"]


def _outage(ts: float) -> bool:
    hour = (ts - START) / 3600
    return 5.0 <= hour < 5.6 or 14.0 <= hour < 16.5 or 30.0 <= hour < 30.3


def _slow(ts: float) -> bool:
    hour = (ts - START) / 3600
    return 9.0 <= hour < 11.0


def make_events(rng: random.Random) -> list[bytes]:
    lines: list[bytes] = []
    ts = float(START)
    end = START + 40 * 3600
    pending: list[dict[str, object]] = []
    while ts < end:
        ts += rng.expovariate(1 / 4.0)  # about one request every 4 s per stream
        service = rng.choice(["checkout", "checkout", "search"])
        failing = _outage(ts) and rng.random() < (0.5 if service == "checkout" else 0.2)
        status = rng.choice([500, 503, 429]) if failing else rng.choice([200, 200, 201, 404])
        event: dict[str, object] = {
            "ts": round(ts, 3) if rng.random() < 0.8 else _rfc3339(ts),
            "service": service,
            "operation": rng.choice(OPERATIONS),
            "status": status,
            "latency_ms": round(rng.expovariate(1 / (600 if _slow(ts) else 80)), 1),
            "region": rng.choice(REGIONS),
        }
        if rng.random() < 0.02:
            event["ok"] = rng.random() < 0.5
        pending.append(event)
        if rng.random() < 0.02:  # a load balancer's count for the last minute
            zone = rng.choice(["a", "b"])
            total = rng.randint(50, 400)
            bad = rng.randint(0, total // 5) if _outage(ts) else rng.randint(0, 1)
            pending.append({"ts": round(ts, 3), "slo": "lb-availability", "good": total - bad,
                            "total": total, "series": {"zone": zone}})
        if len(pending) >= rng.choice([1, 1, 1, 4, 20]):
            rng.shuffle(pending)  # out of order within a few seconds: inside the lateness
            if len(pending) == 1:
                lines.append(orjson.dumps(pending[0]))
            else:
                lines.append(orjson.dumps(pending))
            pending = []
        if rng.random() < 0.001:
            lines.append(rng.choice(BAD_LINES))
    return lines


BAD_LINES = [
    b"{not json",
    b"",
    b'{"service": "checkout", "status": 200}',
    b'{"ts": "yesterday", "service": "checkout", "status": 200}',
    b'{"ts": 1795000000, "slo": "no-such-slo", "good": 1, "total": 1}',
    b'{"ts": 1795000000, "slo": "lb-availability", "good": 5, "total": 2}',
    b'{"ts": 1795000000, "slo": "lb-availability", "good": -1, "total": 2}',
    b'{"ts": 1795000000, "service": "checkout", "status": "fine"}',
    b'[{"ts": 1795000000, "service": "search", "status": 200}, 7]',
    b'"just a string"',
    b'{"ts": 1795000000, "service": "checkout", "latency_ms": -5, "status": 200}',
]


def _rfc3339(ts: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def write_inputs() -> None:
    rng = random.Random(20261202)
    (HERE / "slos.yaml").write_text(SLOS)
    with gzip.GzipFile(HERE / "events.jsonl.gz", "wb", mtime=0) as out:
        out.write(b"\n".join(make_events(rng)) + b"\n")


def backtest_args(out: Path) -> list[str]:
    """The command, run from this folder (dead letters name the events file as given)."""
    return ["backtest", "--slos", "slos.yaml", "--events", "events.jsonl.gz",
            "--out", str(out / "alerts.jsonl"), "--budgets", str(out / "budgets.jsonl"),
            "--dead-letters", str(out / "dead-letters.jsonl"), "--budget-interval", "10m",
            "--quiet"]


def record() -> None:
    import io
    import os

    from streams.cli.main import run

    out = HERE / "expected"
    out.mkdir(exist_ok=True)
    os.chdir(HERE)
    code = run(backtest_args(out), io.BytesIO(), sys.stderr)
    assert code == 0, code
    budgets = out / "budgets.jsonl"
    with gzip.GzipFile(out / "budgets.jsonl.gz", "wb", mtime=0) as packed:
        packed.write(budgets.read_bytes())
    budgets.unlink()


if __name__ == "__main__":
    if not (HERE / "events.jsonl.gz").exists() or "--inputs" in sys.argv:
        write_inputs()
    if "--record" in sys.argv:
        record()
