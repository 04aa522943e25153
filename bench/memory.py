"""Worker memory with many active series, and recovery time of that state (run by hand).

    python bench/memory.py                    # 10,000 series, 30-day period
    python bench/memory.py --series 2000
    python bench/memory.py --alerting         # every series pages

Starts the bundled broker, produces count events for N series of one SLO (99.9%, default
multiwindow policy, 30-day period, `group_by: [id]`) spread over six hours of event time, so
that every ring of every series holds data, and runs one `sre-streams worker` until its
committed offsets reach the end. Six hours of history mean a catch-up: with the default
budget interval (60 s) the worker publishes 360 budget snapshots per series on the way.
Reports the worker's peak RSS (VmHWM), then stops it (SIGTERM) and starts it again:
recovery is the time from the restart until the worker has restored every partition from
the changelog and is reading the input again.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
from aiokafka import AIOKafkaProducer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.throughput import PARTITIONS, api_env, committed, create, end_offsets, failure
from streams.runtime.kafka.local_broker import LocalBroker

SLOS = """apiVersion: sre-streams/v1
slos:
  - name: api-availability
    service: api
    objective: 0.999
    window: 30d
    sli: {availability: {}}
    group_by: [id]
    max_series: 100000
"""


async def produce(bootstrap: str, topic: str, series: int, hours: float, alerting: bool) -> int:
    """Count events: every series every 10 minutes over `hours`, 100 events a message.

    Healthy series by default (a bad event now and then: no rule fires); `alerting` gives
    every series 0-2 bad events of 50-500 every 10 minutes, so every series pages."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=1 << 20)
    await producer.start()
    rng = random.Random(5)
    start = time.time() - hours * 3600 - 600
    sent = 0
    try:
        for step in range(int(hours * 6)):
            ts = start + step * 600
            batch = []
            for n in range(series):
                total = rng.randrange(50, 500)
                bad = n % 3 if alerting else int(rng.random() < 0.05)
                batch.append({"ts": ts, "slo": "api-availability", "good": total - bad,
                              "total": total, "series": {"id": f"s{n:05d}"}})
                if len(batch) == 100:
                    await producer.send(topic, orjson.dumps(batch), key=b"api-%d" % (n // 100))
                    sent += 1
                    batch = []
            if batch:
                await producer.send(topic, orjson.dumps(batch), key=b"api-rest")
                sent += 1
        await producer.flush()
    finally:
        await producer.stop()
    return sent


def peak_rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--hours", type=float, default=6.0)
    parser.add_argument("--logs", type=Path, help="copy the workers' logs to this folder")
    parser.add_argument("--alerting", action="store_true",
                        help="every series pages (default: healthy series, no alerts)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, LocalBroker() as broker:
        workdir = Path(tmp)
        slos = workdir / "slos.yaml"
        slos.write_text(SLOS)
        prefix = "mem."
        topic = prefix + "requests"
        asyncio.run(create(broker.bootstrap, [topic]))
        began = time.perf_counter()
        messages = asyncio.run(produce(broker.bootstrap, topic, args.series, args.hours,
                                           args.alerting))
        ends = asyncio.run(end_offsets(broker.bootstrap, topic))
        print(f"produced {messages:,} messages for {args.series:,} series over {args.hours} h "
              f"in {time.perf_counter() - began:.1f} s", flush=True)
        env = {**os.environ, "SRE_BROKER": broker.url, "SRE_SLOS": str(slos),
               "SRE_TOPIC_PREFIX": prefix, "SRE_APP_ID": "mem", "SRE_IDLE_TIMEOUT": "1h",
               "SRE_DATA_DIR": str(workdir / "data"), **api_env()}

        def start(name: str) -> tuple[subprocess.Popen[bytes], Path]:
            log = workdir / f"{name}.log"
            with open(log, "wb") as out:
                return subprocess.Popen([sys.executable, "-m", "streams", "worker", "-l", "info"],
                                        env=env, stdout=out, stderr=out,
                                        start_new_session=True), log

        def stop(process: subprocess.Popen[bytes]) -> None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(60)

        first, _ = start("first")
        began = time.perf_counter()
        while True:
            done = asyncio.run(committed(broker.bootstrap, "mem-requests", topic))
            if all(done.get(p, -1) >= end for p, end in ends.items() if end > 0):
                break
            if first.poll() is not None or time.perf_counter() - began > 1800:
                raise failure("worker failed", workdir / "first.log")
            time.sleep(0.5)
        rss = peak_rss_mib(first.pid)
        print(f"counted in {time.perf_counter() - began:.1f} s; worker peak RSS {rss:,.0f} MiB "
              f"({args.series:,} series)", flush=True)
        stop(first)

        second, log = start("second")
        began = time.perf_counter()
        while "input partitions assigned" not in log.read_text(errors="replace"):
            if second.poll() is not None or time.perf_counter() - began > 600:
                raise failure("restart failed", log)
            time.sleep(0.1)
        recovery = time.perf_counter() - began
        restored = re.findall(r"state restored at input offset \d+ \((\d+) series",
                              log.read_text(errors="replace"))
        timings = re.findall(r"state read (?:ahead )?in [0-9.]+ s, loaded in [0-9.]+ s",
                             log.read_text(errors="replace"))
        print(f"recovery: ready {recovery:.1f} s after the restart ({'; '.join(timings)}), "
              f"{sum(map(int, restored)):,} series restored from {PARTITIONS} partitions; "
              f"peak RSS after recovery {peak_rss_mib(second.pid):,.0f} MiB", flush=True)
        stop(second)
        if args.logs is not None:
            args.logs.mkdir(parents=True, exist_ok=True)
            for name in ("first", "second"):
                shutil.copy(workdir / f"{name}.log", args.logs / f"{name}.log")


if __name__ == "__main__":
    main()
