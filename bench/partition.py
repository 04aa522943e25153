"""CPU time of the worker's partition path and the backtest, in process, before and after a
change (run by hand; figures go to docs/performance.md).

    python bench/partition.py                       # this tree
    python bench/partition.py --baseline HEAD~3     # this tree and HEAD~3, alternating

Load-independent measures for a shared machine: CPU seconds of this process
(`time.process_time`), not wall clock. For the partition path, the messages of
bench/throughput.py (one event a message, and arrays of 100) go through one
`PartitionProcessor` in fetches of 50,000 records, as the worker's loop hands them over
(decode, classify, count, evaluate, checkpoint), next to the ceiling's own work on them
(`orjson.loads` and a count per service). For the backtest, bench/backtest.py's file.
With `--baseline`, the given revision is extracted (`git archive`) and the same measures
run in it and in this tree alternately, `--repeat` times each; medians are printed.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from itertools import islice
from pathlib import Path

import orjson

FETCH = 50_000


def measure(events: int, backtest_events: int) -> dict[str, float]:
    """µs of CPU an event for each measure, in the tree on sys.path."""
    from bench.backtest import SERVICES as BT_SERVICES
    from bench.backtest import SLOS as BT_SLOS
    from bench.throughput import SLOS
    from bench.throughput import events as make_events
    from streams.domain.engine.evaluation import EngineSettings
    from streams.domain.slo.loader import parse_slo_text
    from streams.domain.timestamps import parse_ts
    from streams.offline.backtest import run_backtest
    from streams.runtime.engine.partition import PartitionProcessor
    from streams.synthetic.traffic import iter_jsonl, preset

    result: dict[str, float] = {}
    made = make_events(events, start=time.time() - events / 500 - 3600)
    slo_file = parse_slo_text(SLOS)
    for name, per in (("single", 1), ("batched", 100)):
        values = ([orjson.dumps(e) for e in made] if per == 1 else
                  [orjson.dumps(made[i:i + per]) for i in range(0, len(made), per)])
        began = time.process_time()
        counts: Counter[str] = Counter()
        for value in values:
            decoded = orjson.loads(value)
            if type(decoded) is list:
                for event in decoded:
                    counts[event["service"]] += 1
            else:
                counts[decoded["service"]] += 1
        result[f"{name} ceiling work"] = (time.process_time() - began) / events * 1e6
        processor = PartitionProcessor(slo_file, EngineSettings(), "requests", 0, 1 << 20,
                                       3650 * 86400.0)
        began = time.process_time()
        now = time.time()
        for start in range(0, len(values), FETCH):
            records = list(enumerate(values[start:start + FETCH], start))
            done = 0
            while done < len(records):
                out = processor.process(records[done:], now, max_output=20_000)
                done += out.consumed
                processor.checkpoint(out.alerts)
        result[f"{name} partition"] = (time.process_time() - began) / events * 1e6

    scenario = preset("mixed", start=parse_ts("2026-11-23T00:00:00Z"),
                      duration=2 * backtest_events / 100.0, rate=100.0, seed=11, services=BT_SERVICES)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.jsonl"
        with open(path, "wb") as out_file:
            out_file.writelines(islice(iter_jsonl(scenario), backtest_events))
        began = time.process_time()
        stats = run_backtest(parse_slo_text(BT_SLOS), path, io.BytesIO(), stderr=sys.stderr,
                             progress=False).stats
        result["backtest"] = (time.process_time() - began) / stats.events * 1e6
    return result


def run_in(tree: Path, events: int, backtest_events: int) -> dict[str, float]:
    code = (f"import sys, json; sys.path.insert(0, {str(tree)!r}); "
            f"sys.path.insert(0, {str(Path(__file__).resolve().parent)!r}); "
            f"from partition import measure; print(json.dumps(measure({events}, {backtest_events})))")
    out = subprocess.run([sys.executable, "-c", code], cwd=tree, check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=400_000)
    parser.add_argument("--backtest-events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline", help="a git revision to compare with")
    args = parser.parse_args()
    here = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"this tree": here}
        if args.baseline:
            archive = subprocess.run(["git", "archive", args.baseline], cwd=here, check=True,
                                     capture_output=True).stdout
            with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
                tar.extractall(tmp, filter="data")
            if (Path(tmp) / "setup.py").exists():  # its compiled decoder, as an install builds it
                subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"],
                               cwd=tmp, check=True, capture_output=True)
            trees = {args.baseline: Path(tmp), **trees}
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
        for n in range(args.repeat):
            for name, tree in trees.items():
                runs[name].append(run_in(tree, args.events, args.backtest_events))
                print(f"run {n + 1} {name}: " + ", ".join(
                    f"{k} {v:.3f}" for k, v in runs[name][-1].items()), flush=True)
    print(f"\nmedians of {args.repeat}, µs of CPU an event:")
    for name, results in runs.items():
        med = {k: statistics.median(r[k] for r in results) for k in results[0]}
        print(f"  {name}: " + ", ".join(f"{k} {v:.3f}" for k, v in med.items()))
        print(f"    backtest {1e6 / med['backtest']:,.0f} events per CPU second; partition / "
              f"ceiling work: single {med['single ceiling work'] / med['single partition']:.3f}, "
              f"batched {med['batched ceiling work'] / med['batched partition']:.3f}")


if __name__ == "__main__":
    main()
