"""Capacity forecasts for many services, and the memory of their demand history (run by hand;
figures go to docs/performance.md).

    python bench/capacity.py                      # 1,000 services, 90 days of hourly history
    python bench/capacity.py --services 200 --repeat 1

Time: one forecast and runway per service (`assess`: the fit, the rolling-origin backtest, the
band, the runway) on one core: BLAS is held to one thread before numpy loads. Each service has
its own demand: growth, daily and weekly seasonality and noise drawn from a seeded generator.
Memory: tracemalloc over the demand meter holding every service's 90 days of hourly points,
then over one open hour of per-minute counts (request and count events), divided by the
number of services.
"""

from __future__ import annotations

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streams.domain.capacity.history import DemandMeter, HourlySeries  # noqa: E402
from streams.domain.capacity.model import CapacityPlan  # noqa: E402
from streams.domain.capacity.runway import assess  # noqa: E402

T0 = 1_795_392_000  # 2026-11-23T00:00:00Z
DAY, HOUR = 86400, 3600


def histories(services: int, days: int, seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    hours = np.arange(days * 24)
    t = T0 + hours * HOUR
    result = []
    for _ in range(services):
        base = rng.uniform(10, 5000)
        growth = rng.uniform(-0.002, 0.02)
        daily, weekly = rng.uniform(0, 0.5), rng.uniform(0, 0.2)
        shape = ((1 + growth * hours / 24) * (1 + daily * np.sin(2 * np.pi * t / DAY))
                 * (1 + weekly * np.sin(2 * np.pi * t / (7 * DAY))))
        values = base * shape * (1 + rng.normal(0, 0.05, len(hours)))
        values[rng.random(len(hours)) < 0.01] = np.nan  # a few hours without data
        result.append(values)
    return result


def time_forecasts(services: int, days: int, repeat: int) -> list[float]:
    values = histories(services, days)
    plans = [CapacityPlan(f"service-{i}", 30 * DAY, 90 * DAY, per_instance=100.0,
                          instances=int(np.nanmax(v) / 100 * 1.6) + 3)
             for i, v in enumerate(values)]
    series = [HourlySeries(days * 24, T0 // HOUR, v) for v in values]
    at = T0 + days * DAY
    seconds = []
    for _ in range(repeat):
        started = time.process_time()
        results = [assess(plan, s, at) for plan, s in zip(plans, series, strict=True)]
        seconds.append(time.process_time() - started)
    statuses = statistics.multimode(r.status.value for r in results)
    print(f"  statuses (mode): {statuses}; warnings on {sum(bool(r.warnings) for r in results)}")
    return seconds


def memory_per_service(services: int, days: int) -> tuple[float, float]:
    keys = [(f"service-{i}", None) for i in range(services)]
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    meter = DemandMeter(keys, {k: days * 24 for k in keys}, {})
    for values, key in zip(histories(services, days), keys, strict=True):
        series = meter.history[key]
        series.first_hour, series.values = T0 // HOUR, values
    history = tracemalloc.take_snapshot()
    end = T0 + days * DAY
    for i in range(services):
        for minute in range(60):  # an open hour: every minute holds events
            meter.request(end + minute * 60 + 1, f"service-{i}")
    open_hour = tracemalloc.take_snapshot()
    tracemalloc.stop()

    def size(a: tracemalloc.Snapshot, b: tracemalloc.Snapshot) -> float:
        return sum(s.size_diff for s in b.compare_to(a, "filename")) / services

    return size(before, history), size(history, open_hour)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"forecasts: {args.services:,} services, {args.days} days of hourly history, "
          f"90-day horizon, one core")
    seconds = time_forecasts(args.services, args.days, args.repeat)
    print(f"  CPU seconds per run: {', '.join(f'{s:.2f}' for s in seconds)} "
          f"(best {min(seconds):.2f} s, {min(seconds) / args.services * 1000:.2f} ms a service)")
    history, open_hour = memory_per_service(args.services, args.days)
    print(f"memory per service: history {history / 1024:.1f} KiB, "
          f"an open hour of per-minute counts {open_hour / 1024:.1f} KiB")


if __name__ == "__main__":
    main()
