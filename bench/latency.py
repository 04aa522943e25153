"""Detection latency: from the start of a total outage to the page on `sre.alerts` (by hand).

    python bench/latency.py                   # 3 outages, 200 events/s
    python bench/latency.py --runs 1 --rate 50

Starts the bundled broker and one `sre-streams worker` with a 99.9% SLO and the default
policy. For each run (a fresh service, so runs do not share windows): an hour of good
traffic as history, then live traffic at a steady rate in real time, then a total outage
(every request 5xx). Measures the wall-clock time from the first failed request to the
`page-fast` alert on the alerts topic. In theory the 1 h window reaches 14.4x burn after
0.0144 h = 51.84 s of total outage; evaluation instants (every 10 s) and the allowed
lateness (5 s) add up to 15 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.throughput import api_env, create
from streams.runtime.kafka.local_broker import LocalBroker

THEORY = 0.0144 * 3600


def slos(runs: int) -> str:
    return "apiVersion: sre-streams/v1\nslos:\n" + "".join(
        f"  - {{name: run{n}-availability, service: run{n}, objective: 0.999, "
        f"sli: {{availability: {{}}}}}}\n" for n in range(runs))


async def one_run(bootstrap: str, prefix: str, service: str, rate: float, lead: float) -> float:
    """Seconds from the outage start to the page for `service`."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    alerts = AIOKafkaConsumer(prefix + "alerts", bootstrap_servers=bootstrap, group_id=None,
                              auto_offset_reset="latest")
    await alerts.start()
    topic = prefix + "requests"
    key = service.encode()
    try:
        now = time.time()
        history = [{"ts": round(now - 3600 + n / rate, 3), "service": service, "status": 200}
                   for n in range(int(3600 * rate))]
        for i in range(0, len(history), 500):
            await producer.send(topic, orjson.dumps(history[i:i + 500]), key=key)
        await producer.flush()
        outage_at = time.time() + lead
        paged: asyncio.Future[float] = asyncio.get_running_loop().create_future()

        async def watch() -> None:
            while not paged.done():
                for messages in (await alerts.getmany(timeout_ms=100)).values():
                    for message in messages:
                        alert = orjson.loads(message.value)
                        if (alert["service"] == service and alert["rule"] == "page-fast"
                                and alert["status"] == "firing" and not paged.done()):
                            paged.set_result(time.time())

        watcher = asyncio.create_task(watch())
        sent_at = time.time()
        while not paged.done():  # live traffic, a message every 100 ms
            await asyncio.sleep(0.1)
            stamp = time.time()
            count = max(1, round((stamp - sent_at) * rate))
            status = 503 if stamp >= outage_at else 200
            await producer.send(topic, orjson.dumps(
                [{"ts": round(stamp, 3), "service": service, "status": status}] * count), key=key)
            sent_at = stamp
            if stamp - outage_at > 300:
                raise RuntimeError("no page within 5 minutes of the outage")
        await watcher
        return paged.result() - outage_at
    finally:
        await alerts.stop()
        await producer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--lead", type=float, default=30.0, help="live good traffic before the outage")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, LocalBroker() as broker:
        workdir = Path(tmp)
        (workdir / "slos.yaml").write_text(slos(args.runs))
        prefix = "lat."
        asyncio.run(create(broker.bootstrap, [prefix + "requests", prefix + "alerts"]))
        env = {**os.environ, "SRE_BROKER": broker.url, "SRE_SLOS": str(workdir / "slos.yaml"),
               "SRE_TOPIC_PREFIX": prefix, "SRE_APP_ID": "lat", "SRE_DATA_DIR": str(workdir / "d"),
               **api_env()}
        with open(workdir / "worker.log", "wb") as log:
            worker = subprocess.Popen([sys.executable, "-m", "streams", "worker", "-l", "info"],
                                      env=env, stdout=log, stderr=log, start_new_session=True)
        try:
            while "input partitions assigned" not in (workdir / "worker.log").read_text(errors="replace"):
                if worker.poll() is not None:
                    raise RuntimeError((workdir / "worker.log").read_text(errors="replace")[-2000:])
                time.sleep(0.2)
            delays = []
            for n in range(args.runs):
                delay = asyncio.run(one_run(broker.bootstrap, prefix, f"run{n}", args.rate, args.lead))
                delays.append(delay)
                print(f"run {n + 1}: outage to page {delay:.1f} s (theory {THEORY:.2f} s; "
                      f"target <= {THEORY + 15:.1f} s)", flush=True)
            print(f"median outage to page: {statistics.median(delays):.1f} s over {args.runs} runs, "
                  f"{args.rate:.0f} events/s (theory {THEORY:.2f} s + up to 15 s of evaluation "
                  f"interval and lateness)")
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(30)


if __name__ == "__main__":
    main()
