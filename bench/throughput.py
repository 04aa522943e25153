"""Worker throughput against the raw Kafka ceiling, side by side in one run (run by hand).

    python bench/throughput.py                          # 1M events, 3 repetitions
    python bench/throughput.py --events 200000 --repeat 1

Starts the bundled broker on a free loopback port, generates request events (20 services,
~150 bytes each) and produces them to two 4-partition topics: one event per message, and
JSON arrays of 100 events per message. Then, for each layout and repetition, measures

- the ceiling: a plain aiokafka consumer, `getmany` + `orjson.loads` + a count per service;
- one `sre-streams worker` (a fresh consumer group) reading the same topic from the start,
  timed from its start until the offsets it commits reach the end of every partition. The
  worker commits offsets only after the state they produced is in the changelog, so this is
  the time to count, evaluate, checkpoint and publish everything.

Prints events/s for each, and the ratios the performance issue targets (medians).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.backtest import slo_text
from streams.local_broker import LocalBroker

PARTITIONS = 4
SERVICES = tuple(f"svc-{i:02d}" for i in range(20))
REGIONS = ("eu", "us", "ap")
OPERATIONS = ("GET /items/{id}", "POST /orders", "GET /search", "PUT /cart/{id}")
SLOS = slo_text(SERVICES)


def events(count: int, start: float) -> list[dict[str, object]]:
    """`count` request events over count/500 seconds: 500 events/s of event time."""
    rng = random.Random(7)
    made = []
    for n in range(count):
        made.append({"ts": round(start + n / 500, 3), "service": rng.choice(SERVICES),
                     "operation": rng.choice(OPERATIONS), "region": rng.choice(REGIONS),
                     "status": 500 if rng.random() < 0.001 else 200,
                     "latency_ms": round(rng.expovariate(1 / 80), 1), "pod": f"pod-{rng.randrange(40)}",
                     "trace": f"{rng.getrandbits(48):012x}"})
    return made


async def create(bootstrap: str, names: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, PARTITIONS, 1) for n in names])
    finally:
        await admin.close()


async def produce(bootstrap: str, topic: str, made: list[dict[str, object]], per_message: int) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=1 << 20,
                                max_request_size=8 << 20)
    await producer.start()
    messages = 0
    try:
        by_service: dict[str, list[bytes]] = {}
        for event in made:
            line = orjson.dumps(event)
            key = str(event["service"])
            if per_message == 1:
                await producer.send(topic, line, key=key.encode())
                messages += 1
                continue
            group = by_service.setdefault(key, [])
            group.append(line)
            if len(group) == per_message:
                await producer.send(topic, b"[" + b",".join(group) + b"]", key=key.encode())
                messages += 1
                group.clear()
        for key, group in by_service.items():
            if group:
                await producer.send(topic, b"[" + b",".join(group) + b"]", key=key.encode())
                messages += 1
        await producer.flush()
    finally:
        await producer.stop()
    return messages


async def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """The true end of each partition: the offset after the last message read."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                max_partition_fetch_bytes=8 << 20)
    await consumer.start()
    tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    consumer.assign(tps)
    ends = {p: 0 for p in range(PARTITIONS)}
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=1000, max_records=100_000)
            if not batches:
                return ends
            for tp, messages in batches.items():
                ends[tp.partition] = messages[-1].offset + 1
    finally:
        await consumer.stop()


async def ceiling(bootstrap: str, topic: str, expected_events: int) -> float:
    """Events/s of a plain consumer that decodes and counts per service."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                max_partition_fetch_bytes=4 << 20, fetch_max_bytes=32 << 20)
    await consumer.start()
    consumer.assign([TopicPartition(topic, p) for p in range(PARTITIONS)])
    counts: Counter[str] = Counter()
    seen = 0
    started = time.perf_counter()
    try:
        while seen < expected_events:
            batches = await consumer.getmany(timeout_ms=1000, max_records=50_000)
            for messages in batches.values():
                for message in messages:
                    value = orjson.loads(message.value)
                    if type(value) is list:
                        for event in value:
                            counts[event["service"]] += 1
                        seen += len(value)
                    else:
                        counts[value["service"]] += 1
                        seen += 1
        return seen / (time.perf_counter() - started)
    finally:
        await consumer.stop()


async def committed(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """The group's committed offsets (a consumer's OffsetFetch: every broker answers it)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        found = {}
        for partition in range(PARTITIONS):
            offset = await consumer.committed(TopicPartition(topic, partition))
            if offset is not None:
                found[partition] = offset
        return found
    finally:
        await consumer.stop()


def worker(bootstrap: str, topic_prefix: str, slos: Path, workdir: Path, ends: dict[int, int],
           timeout: float) -> float:
    """Seconds from a worker's start until its committed offsets reach `ends`."""
    app_id = f"bench-{time.monotonic_ns()}"
    env = {**os.environ, "SRE_BROKER": f"kafka://{bootstrap}", "SRE_SLOS": str(slos),
           "SRE_TOPIC_PREFIX": topic_prefix, "SRE_APP_ID": app_id,
           "SRE_IDLE_TIMEOUT": "1h", "SRE_MAX_FUTURE": "3650d",
           "SRE_DATA_DIR": str(workdir / app_id)}
    log = open(workdir / f"{app_id}.log", "wb")  # noqa: SIM115 - the child's log
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "streams.cli", "worker", "-l", "warn"],
                               env=env, stdout=log, stderr=log, start_new_session=True)
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"worker exited: see {workdir / f'{app_id}.log'}")
            done = asyncio.run(committed(bootstrap, f"{app_id}-requests",
                                         f"{topic_prefix}requests"))
            if all(done.get(p, -1) >= end for p, end in ends.items() if end > 0):
                return time.perf_counter() - started
            if time.perf_counter() - started > timeout:
                raise RuntimeError(f"worker did not finish in {timeout:.0f} s")
            time.sleep(0.25)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def startup(bootstrap: str, slos: Path, workdir: Path) -> float:
    """Seconds from a worker's start to committed offsets on an empty topic of one message:
    the fixed cost (process start, group joins) that the throughput runs include."""
    prefix = f"empty{time.monotonic_ns()}."
    asyncio.run(create(bootstrap, [prefix + "requests"]))
    asyncio.run(produce(bootstrap, prefix + "requests", events(1, time.time() - 3600), 1))
    ends = asyncio.run(end_offsets(bootstrap, prefix + "requests"))
    return worker(bootstrap, prefix, slos, workdir, ends, timeout=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=900.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, LocalBroker() as broker:
        workdir = Path(tmp)
        slos = workdir / "slos.yaml"
        slos.write_text(SLOS)
        made = events(args.events, start=time.time() - args.events / 500 - 3600)
        size = sum(len(orjson.dumps(e)) for e in made[:10_000]) / min(len(made), 10_000)
        layouts = {"1 event/message": ("single.", 1), "100 events/message": ("batched.", 100)}
        ends: dict[str, dict[int, int]] = {}
        for name, (prefix, per_message) in layouts.items():
            asyncio.run(create(broker.bootstrap, [prefix + "requests"]))
            began = time.perf_counter()
            messages = asyncio.run(produce(broker.bootstrap, prefix + "requests", made, per_message))
            ends[name] = asyncio.run(end_offsets(broker.bootstrap, prefix + "requests"))
            print(f"produced {len(made):,} events ({size:.0f} B each) as {messages:,} messages "
                  f"({name}) in {time.perf_counter() - began:.1f} s", flush=True)
        fixed = startup(broker.bootstrap, slos, workdir)
        print(f"worker fixed cost (start, group joins, first commit): {fixed:.1f} s", flush=True)

        results: dict[str, dict[str, list[float]]] = {n: {"ceiling": [], "worker": [],
                                                          "worker (net)": []} for n in layouts}
        for run in range(args.repeat):
            for name, (prefix, _) in layouts.items():
                topic = prefix + "requests"
                top = asyncio.run(ceiling(broker.bootstrap, topic, len(made)))
                elapsed = worker(broker.bootstrap, prefix, slos, workdir, ends[name], args.timeout)
                results[name]["ceiling"].append(top)
                results[name]["worker"].append(len(made) / elapsed)
                results[name]["worker (net)"].append(len(made) / max(elapsed - fixed, 1e-3))
                print(f"run {run + 1}, {name}: ceiling {top:,.0f} events/s, worker "
                      f"{len(made) / elapsed:,.0f} events/s ({elapsed:.1f} s; "
                      f"{len(made) / max(elapsed - fixed, 1e-3):,.0f} without the fixed cost)",
                      flush=True)

        median = {n: {k: statistics.median(v) for k, v in r.items()} for n, r in results.items()}
        single, batched = median["1 event/message"], median["100 events/message"]
        print(f"\nmedians of {args.repeat} runs, {len(made):,} events, {PARTITIONS} partitions, "
              f"{len(SERVICES)} services, {2 * len(SERVICES)} SLOs:")
        for name, values in median.items():
            print(f"  {name:<20} ceiling {values['ceiling']:>10,.0f}  worker {values['worker']:>10,.0f}"
                  f"  (net of start-up {values['worker (net)']:>10,.0f}) events/s")
        print(f"  1 event/message, worker / ceiling:            {single['worker'] / single['ceiling']:.3f}"
              f"  (net {single['worker (net)'] / single['ceiling']:.3f})")
        print(f"  100 events/message, worker / single ceiling:  {batched['worker'] / single['ceiling']:.3f}"
              f"  (net {batched['worker (net)'] / single['ceiling']:.3f})")


if __name__ == "__main__":
    main()
