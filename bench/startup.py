"""Start-up of a worker with a restored state, from process start to its first committed batch
(run by hand).

    python bench/startup.py                     # 5 restarts
    python bench/startup.py --repeat 10 --env SRE_SESSION_TIMEOUT=2s

Starts the bundled broker on a free loopback port and lets one worker count 20,000 request
events of 20 services in 3 regions (40 SLOs grouped by region: 120 series) over 4 partitions,
then stops it (SIGTERM): its state is in the changelog. Then, `--repeat` times: produce 400
more events, start the worker again with the same app id, and time it from the process start
until the group's committed offsets cover the new events (the worker commits offsets only after
the state they produced is stored: the first committed batch), then stop it (SIGTERM) and
start the next at once, so each restart rejoins a group its predecessor just left.

Also reported, from the worker's log: when its input partitions were assigned and restored
('input partitions assigned'), and the process's CPU seconds at the end of the run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.throughput import (
    SLOS,
    WorkerFailed,
    api_env,
    cpu_seconds,
    create,
    end_offsets,
    events,
    failure,
    produce,
    ready_at,
    stop_worker,
    wait_committed,
)
from streams.runtime.kafka.local_broker import LocalBroker

TOPIC_PREFIX = "startup."
APP_ID = "bench-startup"


def start(bootstrap: str, slos: Path, workdir: Path, log: Path,
          extra_env: dict[str, str]) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SRE_BROKER": f"kafka://{bootstrap}", "SRE_SLOS": str(slos),
           "SRE_TOPIC_PREFIX": TOPIC_PREFIX, "SRE_APP_ID": APP_ID, "SRE_IDLE_TIMEOUT": "1h",
           "SRE_MAX_FUTURE": "3650d", "SRE_DATA_DIR": str(workdir / APP_ID), **api_env(),
           **extra_env}
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "streams", "worker", "-l", "info"],
                                env=env, stdout=out, stderr=out, start_new_session=True)


def run_once(bootstrap: str, slos: Path, workdir: Path, log: Path, ends: dict[int, int],
             extra_env: dict[str, str], timeout: float) -> tuple[float, float, float]:
    """(seconds to the first committed batch, seconds to 'input partitions assigned', CPU
    seconds), and the worker stopped after."""
    log.write_bytes(b"")
    started = time.time()
    process = start(bootstrap, slos, workdir, log, extra_env)
    try:
        finished, _, _ = asyncio.run(wait_committed(
            bootstrap, f"{APP_ID}-requests", f"{TOPIC_PREFIX}requests", ends, process, log,
            time.perf_counter() + timeout))
        cpu = cpu_seconds(process.pid)
        ready = ready_at(log)
        if ready is None:
            raise WorkerFailed("no 'input partitions assigned' in the worker log")
        return finished - started, ready - started, cpu
    except WorkerFailed as exc:
        raise failure(str(exc), log) from None
    finally:
        stop_worker(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="a setting for the worker (repeatable)")
    args = parser.parse_args()
    extra_env = dict(item.split("=", 1) for item in args.env)

    with tempfile.TemporaryDirectory() as tmp, LocalBroker() as broker:
        workdir = Path(tmp)
        slos = workdir / "slos.yaml"
        slos.write_text(SLOS)
        topic = f"{TOPIC_PREFIX}requests"
        asyncio.run(create(broker.bootstrap, [topic]))
        begin = time.time() - 3600
        made = events(20_400 + 400 * args.repeat, start=begin)
        asyncio.run(produce(broker.bootstrap, topic, made[:20_000], 1))
        ends = asyncio.run(end_offsets(broker.bootstrap, topic))
        log = workdir / "worker.log"
        first, _, _ = run_once(broker.bootstrap, slos, workdir, log, ends, extra_env,
                               args.timeout)
        print(f"first start (nothing to restore, 20,000 events counted): {first:.2f} s",
              flush=True)
        totals, assigned, cpus = [], [], []
        for run in range(args.repeat):
            more = made[20_000 + 400 * run:20_400 + 400 * run]
            asyncio.run(produce(broker.bootstrap, topic, more, 1))
            ends = asyncio.run(end_offsets(broker.bootstrap, topic))
            total, ready, cpu = run_once(broker.bootstrap, slos, workdir, log, ends, extra_env,
                                         args.timeout)
            totals.append(total)
            assigned.append(ready)
            cpus.append(cpu)
            print(f"restart {run + 1}: first committed batch {total:.2f} s after the process "
                  f"start; partitions assigned and restored at {ready:.2f} s; {cpu:.2f} s of "
                  f"CPU", flush=True)
        print(f"\nmedian (range) of {args.repeat} restarts with 120 series restored: first "
              f"committed batch {statistics.median(totals):.2f} s ({min(totals):.2f}-"
              f"{max(totals):.2f}); assigned {statistics.median(assigned):.2f} s; CPU "
              f"{statistics.median(cpus):.2f} s  (target <= 2.5 s)")


if __name__ == "__main__":
    main()
