"""Worker throughput against the raw Kafka ceiling, side by side in one run (run by hand).

    python bench/throughput.py                          # 1M events, 3 repetitions
    python bench/throughput.py --events 200000 --repeat 1
    python bench/throughput.py --layout batched --tree . --tree ../before   # trees side by side

Starts the bundled broker on a free loopback port, generates request events (20 services,
~150 bytes each) and produces them to two 4-partition topics: one event per message, and
JSON arrays of 100 events per message. Then, for each repetition and layout, measures

- the ceiling: a plain aiokafka consumer, `getmany` + `orjson.loads` + a count per service;
- one `sre-streams worker` (a fresh consumer group) reading the same topic from the start,
  until the offsets it commits reach the end of every partition. The worker commits offsets
  only after the state they produced is in the changelog, so this is the time to count,
  evaluate, checkpoint and publish everything. Reported three ways: events/s from the
  worker's process start (start-up included: imports, group joins, state restore), events/s
  from its 'input partitions assigned' log line (consumption only), and the worker's CPU
  time per event over the latter (the figure least moved by a busy machine).

With `--tree`, a worker runs from each tree given (PYTHONPATH and working directory; e.g. a
`git worktree` of an earlier revision, its decoder built with `python setup.py build_ext
--inplace`), each right after its own ceiling, the trees alternating in every repetition.

Each worker run gets fresh output topics (deleted afterwards), so runs do not feed each
other's incident service. Prints the medians, ranges and the ratios the performance targets
name (worker / the ceiling of the same layout and repetition).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.backtest import slo_text
from streams.runtime.kafka.local_broker import LocalBroker, free_port

ROOT = Path(__file__).resolve().parents[1]
PARTITIONS = 4
SERVICES = tuple(f"svc-{i:02d}" for i in range(20))
REGIONS = ("eu", "us", "ap")
OPERATIONS = ("GET /items/{id}", "POST /orders", "GET /search", "PUT /cart/{id}")
SLOS = slo_text(SERVICES)
SINGLE = "1 event/message"
BATCHED = "100 events/message"


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
        return await _committed(consumer, topic)
    finally:
        await consumer.stop()


async def _committed(consumer: AIOKafkaConsumer, topic: str) -> dict[int, int]:
    found = {}
    for partition in range(PARTITIONS):
        offset = await consumer.committed(TopicPartition(topic, partition))
        if offset is not None:
            found[partition] = offset
    return found


@dataclass(frozen=True)
class WorkerRun:
    gross: float  # seconds from the worker's start until its committed offsets reached the end
    net: float  # the same from its 'input partitions assigned' (logged when the state is restored)
    cpu: float  # CPU seconds the worker used in `net` (less sensitive to a busy machine)


async def wait_committed(bootstrap: str, group: str, topic: str, ends: dict[int, int],
                         process: subprocess.Popen[bytes], log: Path,
                         deadline: float) -> tuple[float, float, float]:
    """Wall-clock time at which the group's committed offsets were first seen at `ends` (polled
    every 50 ms with one consumer, so the poll adds little to what it measures), and the
    worker's CPU seconds at that time and when its log first said its partitions were assigned."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                                enable_auto_commit=False)
    await consumer.start()
    cpu_at_ready = None
    try:
        while True:
            if cpu_at_ready is None and READY.search(log.read_bytes()):
                cpu_at_ready = cpu_seconds(process.pid)
            done = await _committed(consumer, topic)
            if all(done.get(p, -1) >= end for p, end in ends.items() if end > 0):
                finished, cpu = time.time(), cpu_seconds(process.pid)
                return finished, cpu_at_ready if cpu_at_ready is not None else cpu, cpu
            if process.poll() is not None:
                raise WorkerFailed("worker exited")
            if time.perf_counter() > deadline:
                raise WorkerFailed("worker did not finish in time")
            await asyncio.sleep(0.05)
    finally:
        await consumer.stop()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class WorkerFailed(RuntimeError):
    pass


def failure(message: str, log: Path) -> RuntimeError:
    """An error naming a copy of the worker's log that outlives the run, with its first traceback."""
    kept = Path(tempfile.gettempdir()) / f"sre-bench-{time.monotonic_ns()}-{log.name}"
    shutil.copyfile(log, kept)
    lines = kept.read_text(errors="replace").splitlines()
    first = next((i for i, line in enumerate(lines) if "Traceback" in line), max(len(lines) - 20, 0))
    return RuntimeError(f"{message} (log kept in {kept}):\n" + "\n".join(lines[first:first + 30]))


READY = re.compile(rb"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\].*input partitions assigned",
                   re.MULTILINE)


def ready_at(log: Path) -> float | None:
    """Wall-clock time of the worker's last 'input partitions assigned' (its state restored,
    about to read): from there on it only consumes."""
    stamps = READY.findall(log.read_bytes())
    if not stamps:
        return None
    return datetime.strptime(stamps[-1].decode(), "%Y-%m-%d %H:%M:%S,%f").timestamp()


def api_env() -> dict[str, str]:
    """The worker's HTTP API on a free loopback port: a benchmark never meets a running one."""
    return {"SRE_API_HOST": "127.0.0.1", "SRE_API_PORT": str(free_port())}


def worker(bootstrap: str, topic_prefix: str, slos: Path, workdir: Path, ends: dict[int, int],
           timeout: float, extra_env: dict[str, str] | None = None,
           tree: Path | None = None) -> WorkerRun:
    """Run one worker over the topic from its start (from the source tree `tree`, default
    this one); see WorkerRun."""
    app_id = f"bench-{time.monotonic_ns()}"
    env = {**os.environ, "SRE_BROKER": f"kafka://{bootstrap}", "SRE_SLOS": str(slos),
           "SRE_TOPIC_PREFIX": topic_prefix, "SRE_APP_ID": app_id,
           "SRE_IDLE_TIMEOUT": "1h", "SRE_MAX_FUTURE": "3650d",
           "SRE_DATA_DIR": str(workdir / app_id), **api_env(),
           **({} if tree is None else {"PYTHONPATH": str(tree)}), **(extra_env or {})}
    path = workdir / f"{app_id}.log"
    log = open(path, "wb")  # noqa: SIM115 - the child's log
    started = time.time()
    process = subprocess.Popen([sys.executable, "-m", "streams", "worker", "-l", "info"],
                               env=env, stdout=log, stderr=log, start_new_session=True,
                               cwd=tree)
    try:
        finished, cpu_ready, cpu_end = asyncio.run(wait_committed(
            bootstrap, f"{app_id}-requests", f"{topic_prefix}requests", ends, process, path,
            time.perf_counter() + timeout))
        ready = ready_at(path)
        if ready is None:
            raise WorkerFailed("no 'input partitions assigned' in the worker log")
        return WorkerRun(finished - started, finished - ready, cpu_end - cpu_ready)
    except WorkerFailed as exc:
        raise failure(str(exc), path) from None
    finally:
        stop_worker(process)
        log.close()
        # Every run starts from the same broker state: the outputs of this one (alerts,
        # budgets, incidents, changelogs) must not become the input of the next one's
        # incident service.
        asyncio.run(drop_topics(bootstrap, (topic_prefix, app_id), keep=f"{topic_prefix}requests"))


def stop_worker(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (a clean stop), SIGKILL after 30 s."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


async def drop_topics(bootstrap: str, prefixes: tuple[str, ...], keep: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = [n for n in await admin.list_topics() if n.startswith(prefixes) and n != keep]
        if names:
            await admin.delete_topics(names)
    finally:
        await admin.close()


def spread(values: list[float]) -> str:
    """Median and range, e.g. '101,234 (95,120-110,001)'."""
    return f"{statistics.median(values):,.0f} ({min(values):,.0f}-{max(values):,.0f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--layout", choices=("both", "single", "batched"), default="both")
    parser.add_argument("--tree", action="append", type=Path,
                        help="run the worker from this source tree (repeat to compare trees "
                             "side by side, e.g. a git worktree of an earlier revision with its "
                             "decoder built); default: this one")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, LocalBroker() as broker:
        workdir = Path(tmp)
        slos = workdir / "slos.yaml"
        slos.write_text(SLOS)
        made = events(args.events, start=time.time() - args.events / 500 - 3600)
        size = sum(len(orjson.dumps(e)) for e in made[:10_000]) / min(len(made), 10_000)
        layouts = {name: layout for name, layout in
                   {SINGLE: ("single.", 1), BATCHED: ("batched.", 100)}.items()
                   if args.layout in ("both", layout[0].rstrip("."))}
        ends: dict[str, dict[int, int]] = {}
        for name, (prefix, per_message) in layouts.items():
            asyncio.run(create(broker.bootstrap, [prefix + "requests"]))
            began = time.perf_counter()
            messages = asyncio.run(produce(broker.bootstrap, prefix + "requests", made, per_message))
            ends[name] = asyncio.run(end_offsets(broker.bootstrap, prefix + "requests"))
            print(f"produced {len(made):,} events ({size:.0f} B each) as {messages:,} messages "
                  f"({name}) in {time.perf_counter() - began:.1f} s", flush=True)

        trees = args.tree or [ROOT]
        runs: list[dict[str, float]] = []
        for run in range(args.repeat):
            result: dict[str, float] = {}
            for name, (prefix, _) in layouts.items():
                for tree in trees:  # each worker right after a ceiling of its own
                    top = asyncio.run(ceiling(broker.bootstrap, prefix + "requests", len(made)))
                    done = worker(broker.bootstrap, prefix, slos, workdir, ends[name], args.timeout,
                                  tree=tree)
                    key = f"{tree} {name}"
                    result[f"{key} ceiling"] = top
                    result[f"{key} worker"] = len(made) / done.gross
                    result[f"{key} worker net"] = len(made) / done.net
                    result[f"{key} start-up"] = done.gross - done.net
                    result[f"{key} cpu"] = done.cpu / len(made) * 1e6
                    result[f"{key} ratio"] = result[f"{key} worker"] / top
                    result[f"{key} ratio net"] = result[f"{key} worker net"] / top
                    print(f"run {run + 1}, {name}{'' if len(trees) == 1 else f', {tree}'}: "
                          f"ceiling {top:,.0f} events/s; worker "
                          f"{len(made) / done.gross:,.0f} events/s from its start "
                          f"({done.gross:.1f} s), {len(made) / done.net:,.0f} events/s once "
                          f"assigned ({done.net:.1f} s after {done.gross - done.net:.1f} s of "
                          f"start-up), {done.cpu / len(made) * 1e6:.2f} µs of worker CPU an event",
                          flush=True)
            runs.append(result)

        def column(key: str) -> list[float]:
            return [r[key] for r in runs]

        def ratio(key: str) -> str:
            values = column(key)
            return f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})"

        print(f"\nmedian (range) of {args.repeat} runs, {len(made):,} events, {PARTITIONS} "
              f"partitions, {len(SERVICES)} services, {2 * len(SERVICES)} SLOs, events/s:")
        for tree in trees:
            if len(trees) > 1:
                print(f" worker from {tree}:")
            for name in layouts:
                key = f"{tree} {name}"
                print(f"  {name:<20} ceiling {spread(column(f'{key} ceiling'))}")
                print(f"  {'':<20} worker from start {spread(column(f'{key} worker'))}; "
                      f"once assigned {spread(column(f'{key} worker net'))}; start-up "
                      f"{statistics.median(column(f'{key} start-up')):.1f} s; worker CPU "
                      f"{statistics.median(column(f'{key} cpu')):.2f} µs an event")
            for name, target in ((SINGLE, 0.85), (BATCHED, 0.75)):
                key = f"{tree} {name}"
                if f"{key} ratio" in runs[0]:
                    print(f"  {name}, worker / same-layout ceiling: from start "
                          f"{ratio(f'{key} ratio')}, once assigned {ratio(f'{key} ratio net')}  "
                          f"(target once assigned >= {target})")


if __name__ == "__main__":
    main()
