"""Backtest throughput and per-series memory (run by hand; figures go to docs/performance.md).

    python bench/backtest.py                 # 1M events, 10 SLOs, 3 repetitions
    python bench/backtest.py --events 200000 --repeat 1

Throughput: generate request events for 5 services x 2 regions (10 SLOs: availability and
latency per service, grouped by region), write them as JSONL, then time the whole backtest
path in this process (read lines, decode, classify, count, evaluate, write alerts) on one core.
Memory: tracemalloc over N series whose every bucket of every window holds data, with the
default policy and a 30-day period, divided by N.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
import tracemalloc
from itertools import islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streams.domain.engine import ingest
from streams.domain.engine.evaluation import Engine, EngineSettings
from streams.domain.slo.loader import parse_slo_text
from streams.domain.timestamps import parse_ts
from streams.offline.backtest import run_backtest
from streams.synthetic.traffic import iter_jsonl, preset

SERVICES = ("checkout", "search", "catalog", "payments", "auth")
def slo_text(services: tuple[str, ...]) -> str:
    """Availability and latency SLOs per service, grouped by region."""
    return "apiVersion: sre-streams/v1\nslos:\n" + "".join(
        f"""  - name: {s}-availability
    service: {s}
    objective: 0.999
    sli: {{availability: {{}}}}
    group_by: [region]
  - name: {s}-latency
    service: {s}
    objective: 0.99
    sli: {{latency: {{threshold_ms: 300}}}}
    group_by: [region]
"""
        for s in services
    )


SLOS = slo_text(SERVICES)


def throughput(events: int, repeat: int) -> None:
    slo_file = parse_slo_text(SLOS)
    rate = 100.0
    scenario = preset("mixed", start=parse_ts("2026-11-23T00:00:00Z"), duration=2 * events / rate,
                      rate=rate, seed=11, services=SERVICES)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.jsonl"
        with open(path, "wb") as out:
            out.writelines(islice(iter_jsonl(scenario), events))
        size = path.stat().st_size
        rates: dict[str, list[float]] = {"column-wise": [], "event by event": []}
        outputs: dict[str, bytes] = {}
        for _ in range(repeat):
            for mode in rates:
                # The per-event path alone, for comparison: batches never go column-wise.
                ingest.COLUMNAR_MIN = 64 if mode == "column-wise" else 1 << 62
                sink = io.BytesIO()
                started = time.perf_counter()
                result = run_backtest(slo_file, path, sink, stderr=sys.stderr, progress=False)
                elapsed = time.perf_counter() - started
                rates[mode].append(result.stats.events / elapsed)
                outputs[mode] = sink.getvalue()
                print(f"  {mode}: {result.stats.events:,} events in {elapsed:.2f} s = "
                      f"{rates[mode][-1]:,.0f} events/s; {result.series} series, "
                      f"{result.stats.evaluations:,} instants, {result.alerts} alerts", flush=True)
    assert outputs["column-wise"] == outputs["event by event"], "the two paths disagree"
    best = statistics.median(rates["column-wise"])
    slow = statistics.median(rates["event by event"])
    print(f"backtest throughput: median {best:,.0f} events/s column-wise, {slow:,.0f} event by "
          f"event (x{best / slow:.2f}); {result.stats.events:,} events, "
          f"{size / result.stats.events:.0f} B/event, {len(slo_file.slos)} SLOs, {repeat} runs")


def memory(series: int) -> None:
    """Bytes a series holds once every bucket of every window has data (the worst case)."""
    slo_file = parse_slo_text(
        "apiVersion: sre-streams/v1\nslos:\n  - {name: api, service: api, objective: 0.999, "
        "window: 30d, sli: {availability: {}}, group_by: [id], max_series: 1000000}\n")
    engine = Engine(slo_file, EngineSettings(budget_interval=None))
    start = parse_ts("2026-11-01T00:00:00Z")
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for n in range(series):
        engine.ingest({"ts": start, "slo": "api", "good": 1, "total": 1, "series": {"id": f"s{n}"}})
    engine.ingest({"ts": start + 60, "slo": "api", "good": 1, "total": 1, "series": {"id": "s0"}})
    # Fill every ring slot and window sum with a distinct large count, as 30 days of busy
    # traffic would (numbers above 256 are objects of their own in CPython).
    big = 10**9
    for item in engine.series:
        counters = item.counters
        for ring_good, ring_total in zip(counters.ring_good, counters.ring_total, strict=True):
            for slot in range(len(ring_good)):
                ring_good[slot] = big + slot
                ring_total[slot] = big + slot + 7
        counters.good[:] = [big * 100 + w for w in range(len(counters.good))]
        counters.total[:] = [big * 101 + w for w in range(len(counters.total))]
        counters.pending[counters.instant or 0] = [big + 1, big + 2]
    after = tracemalloc.take_snapshot()
    used = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    tracemalloc.stop()
    plan = engine.series[0].runtime.plan
    print(f"memory per series: {used / series / 1024:.1f} KiB "
          f"({series} series, {plan.buckets} buckets each, default policy, 30d period)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--series", type=int, default=1000)
    args = parser.parse_args()
    throughput(args.events, args.repeat)
    memory(args.series)


if __name__ == "__main__":
    main()
