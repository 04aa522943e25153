"""Evaluation cost of a rolling SLO, two source trees compared (run by hand; figures go to
docs/performance.md).

    python bench/calendar_ab.py PATH_A PATH_B [--rounds 8]

Runs the same workload from each tree in turn, each in its own process: 200 series of a
rolling 30-day SLO, one count event per series every 10 s for 2 hours (144,000 events and as
many series-instants, snapshots every minute). Prints the process CPU time of ingest and
evaluation (median and minimum over the rounds) and B/A; CPU time, not wall time, so other
work on the machine moves the figures less.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

WORKLOAD = """
import sys
import time

sys.path.insert(0, sys.argv[1])
from streams.domain.engine.evaluation import Engine, EngineSettings
from streams.domain.slo.loader import parse_slo_text

TEXT = '''apiVersion: sre-streams/v1
slos:
  - {name: api, service: api, objective: 0.999, sli: {availability: {}}, group_by: [region],
     max_series: 1000}
'''
events = [{"ts": 1_795_000_000 + step * 10, "slo": "api", "total": 100,
           "good": 99 if (step // 60 + r) % 7 else 90, "series": {"region": f"r{r}"}}
          for step in range(720) for r in range(200)]
engine = Engine(parse_slo_text(TEXT), EngineSettings(eval_interval=10, lateness=5,
                                                     budget_interval=60))
started = time.process_time()
engine.ingest_batch(events)
engine.finish()
print(time.process_time() - started, len(engine.budgets), len(engine.alerts))
"""


def run(root: str) -> tuple[float, str]:
    out = subprocess.run([sys.executable, "-c", WORKLOAD, root], capture_output=True, text=True,
                         check=True).stdout.split()
    return float(out[0]), " ".join(out[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description="evaluation cost of a rolling SLO, A against B")
    parser.add_argument("a", help="source tree A (the baseline)")
    parser.add_argument("b", help="source tree B")
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    times: dict[str, list[float]] = {args.a: [], args.b: []}
    outputs = set()
    for _ in range(args.rounds):
        for root in (args.a, args.b):
            seconds, output = run(root)
            times[root].append(seconds)
            outputs.add(output)
    for root, found in times.items():
        print(f"{root}: median {statistics.median(found):.3f} s, min {min(found):.3f} s CPU")
    a, b = times[args.a], times[args.b]
    print(f"B/A: median {statistics.median(b) / statistics.median(a):.3f}, "
          f"min {min(b) / min(a):.3f}; same snapshot and alert counts: {len(outputs) == 1}")


if __name__ == "__main__":
    main()
