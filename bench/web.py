"""The web pages' cost: the overview with many series, an SLO page with full histories, and
the memory of the budget history per series (run by hand).

    python bench/web.py                  # 1,000 series
    python bench/web.py --series 10000

Pure: the leader's books are filled in process (10 SLOs of a 30-day period, the series spread
over them, every series with a full history: a snapshot a minute over 40 days, so every tier
is full), then the pages are rendered as the worker renders them.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streams.domain.history import DAY, MINUTE, HistoryBook, Point, SeriesHistory, chunk_json
from streams.domain.incidents.book import IncidentBook
from streams.domain.policy import PolicyBook, series_key
from streams.domain.slo.loader import parse_slo_text
from streams.domain.timestamps import format_ts, parse_ts
from streams.web.pages import PageData, overview_page, slo_page
from streams.wire.budgets import BudgetSnapshot

NOW = parse_ts("2026-11-23T00:00:00Z")
SLOS = 10


def slo_file(series: int) -> str:
    per = max(1, series // SLOS)
    body = "".join(f"""
  - name: slo-{n}
    service: service-{n % 4}
    objective: 0.999
    window: 30d
    sli: {{availability: {{}}}}
    group_by: [id]
    max_series: {per}
    labels: {{team: team-{n % 3}}}""" for n in range(SLOS))
    return "apiVersion: sre-streams/v1\nslos:" + body + "\n"


def full_history(seed: int) -> SeriesHistory:
    history = SeriesHistory(30 * DAY)
    t = NOW - 40 * DAY
    while t <= NOW:
        history.add(Point(t, 1.0 - (t - NOW + 40 * DAY) / (80 * DAY) - seed * 1e-6,
                          1e6 + t % 1000, 1e6 + t % 1000 + seed % 7))
        t += MINUTE
    return history


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    slos = parse_slo_text(slo_file(args.series))
    policies = PolicyBook(slos)
    history = HistoryBook({slo.name: slo.window for slo in slos.slos})
    start = time.perf_counter()
    template = full_history(0)
    add_cost = (time.perf_counter() - start) / (40 * DAY / MINUTE)
    per = args.series // SLOS
    for n in range(args.series):
        slo = slos.slos[n % SLOS]
        series = {"id": f"instance-{n // SLOS:05d}"}
        remaining = 1.0 - (n % 97) / 50
        policies.on_budget(BudgetSnapshot(
            slo=slo.name, service=slo.service, series=series, at=format_ts(NOW),
            objective=slo.objective, window="30d", good=999_000 - n, total=1_000_000,
            sli=0.999, error_budget_remaining=remaining,
            burn_rates={"5m": n % 20, "1h": n % 15, "6h": n % 9, "30d": 1 - remaining},
            firing=["page-fast"] if n % 50 == 0 else [], labels=dict(slo.labels)))
        copy = SeriesHistory(slo.window)
        for mine, theirs in zip(copy.tiers, template.tiers, strict=True):
            mine.values = theirs.values[:]
        history.series[series_key(slo.name, series)] = copy
    data = PageData(slos, policies, IncidentBook(slos.incidents), history)

    def timed(render: object, runs: int) -> tuple[float, float, int]:
        times, size = [], 0
        for _ in range(runs):
            start = time.perf_counter()
            html = render()  # type: ignore[operator]
            times.append(time.perf_counter() - start)
            size = len(html)
        return statistics.median(times), max(times), size

    overview = timed(lambda: overview_page(data, {}), args.runs)
    filtered = timed(lambda: overview_page(data, {"label": "team=team-1", "sort": "burn_1h"}),
                     args.runs)
    slo = timed(lambda: slo_page(data, "slo-0", {}), args.runs)
    print(f"history: {add_cost * 1e6:.1f} µs per snapshot added (every tier)")
    print(f"{args.series:,} series ({SLOS} SLOs, {per:,} series each), full 30-day histories")
    print(f"overview /: median {overview[0] * 1000:.0f} ms, max {overview[1] * 1000:.0f} ms, "
          f"{overview[2] / 1024:.0f} KiB of HTML")
    print(f"overview filtered and sorted: median {filtered[0] * 1000:.0f} ms")
    print(f"SLO page (12 series charted, {len(template.points())} points each): median "
          f"{slo[0] * 1000:.0f} ms, {slo[2] / 1024:.0f} KiB")

    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = [full_history(n) for n in range(20)]
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    print(f"history per series (all tiers full: {sum(len(t) for t in kept[0].tiers)} points): "
          f"{(after - before) / len(kept) / 1024:.1f} KiB allocated, "
          f"{kept[0].memory_bytes() / 1024:.1f} KiB of it point data")

    print(f"changelog: {stored_per_snapshot():.0f} bytes of history records per snapshot of a "
          "series (a snapshot a minute, steady state)")


def stored_per_snapshot() -> float:
    """Bytes of history chunks a checkpoint writes per snapshot, averaged over the second
    of two days of a snapshot a minute (one checkpoint per snapshot: the most it writes)."""
    book = HistoryBook({"api": 30 * DAY})
    written, counted = 0, 0
    for n in range(2 * 1440):
        book.on_budget(BudgetSnapshot(
            slo="api", service="api", series={"id": "a"}, at=format_ts(NOW + n * MINUTE),
            objective=0.999, window="30d", good=987_654 + n * 1000, total=988_000 + n * 1000,
            sli=0.9996, error_budget_remaining=0.987654321 - n * 1e-5, burn_rates={},
            firing=[], labels={}))
        size = sum(len(chunk_json(values)) + 40 for _, _, _, values in book.take_changed())
        if n >= 1440:
            written, counted = written + size, counted + 1
    return written / counted


if __name__ == "__main__":
    main()
