"""State survives SIGKILL and moves with partitions: counts and alerts as if nothing happened."""

from __future__ import annotations

import difflib
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from streams.domain.timestamps import parse_ts
from streams.synthetic.traffic import iter_jsonl, preset
from tests.integration.conftest import REPLAY_IDLE, Live, kill, read, wait_for

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SLOS = ROOT / "examples" / "slos.yaml"

Message = dict[str, object]


@dataclass
class Expected:
    events: Path
    alerts: list[Message]
    budgets: set[bytes]
    last_ts: float

    def halves(self) -> tuple[Path, Path]:
        """The events file cut in two: the second half is produced after the interruption,
        so that the interruption falls mid-stream however fast the worker keeps up."""
        lines = self.events.read_bytes().splitlines(keepends=True)
        first, second = self.events.with_suffix(".1.jsonl"), self.events.with_suffix(".2.jsonl")
        first.write_bytes(b"".join(lines[:len(lines) // 2]))
        second.write_bytes(b"".join(lines[len(lines) // 2:]))
        return first, second


def expected_run(live: Live, tmp_path: Path, seed: int) -> Expected:
    """A two-hour outage scenario and what `backtest` makes of it."""
    events = tmp_path / "outage.jsonl"
    scenario = preset("outage", start=parse_ts("2026-11-23T00:00:00Z"), duration=2 * 3600,
                      rate=25, seed=seed)
    events.write_bytes(b"".join(iter_jsonl(scenario)))
    alerts, budgets = tmp_path / "alerts.jsonl", tmp_path / "budgets.jsonl"
    done = live.cli("backtest", "--quiet", "--slos", str(SLOS), "--events", str(events),
                    "--out", str(alerts), "--budgets", str(budgets))
    assert done.returncode == 0, done.stderr
    last_ts = max(orjson.loads(line)["ts"] for line in events.read_bytes().splitlines())
    return Expected(events, sorted(map(orjson.loads, alerts.read_bytes().splitlines()), key=order),
                    {canonical(orjson.loads(b)) for b in budgets.read_bytes().splitlines()}, last_ts)


def order(message: Message) -> tuple[object, ...]:
    return (message["at"], message.get("id"), message.get("status"), message.get("slo"),
            orjson.dumps(message.get("series"), option=orjson.OPT_SORT_KEYS))


def canonical(message: Message) -> bytes:
    return orjson.dumps(message, option=orjson.OPT_SORT_KEYS)


def assert_as_uninterrupted(live: Live, expected: Expected) -> None:
    """Alerts exactly once each; every budget snapshot equal to backtest's (repeats allowed)."""
    def within(topic: str) -> list[Message]:
        return [m for m in read(live, topic) if parse_ts(m["at"]) <= expected.last_ts]  # type: ignore[arg-type]

    wait_for(lambda: len(within(live.settings.topics.alerts)) >= len(expected.alerts), 240, live,
             "all alerts")
    alerts = sorted(within(live.settings.topics.alerts), key=order)
    if alerts != expected.alerts:
        write_diff(live, "alerts", alerts, expected.alerts)
    assert alerts == expected.alerts, f"see {live.workdir}/alerts.diff"

    def budgets() -> set[bytes]:
        return {canonical(b) for b in within(live.settings.topics.budgets)}

    deadline = time.monotonic() + 120
    while not budgets() >= expected.budgets and time.monotonic() < deadline:
        time.sleep(1)
    got = budgets()
    if got != expected.budgets:
        write_diff(live, "budgets", sorted(map(orjson.loads, got), key=order),
                   sorted(map(orjson.loads, expected.budgets), key=order))
    assert got == expected.budgets, f"see {live.workdir}/budgets.diff"


def write_diff(live: Live, name: str, got: list[Message], expected: list[Message]) -> None:
    """Both sides, one message a line, for `diff` (a failure's evidence)."""
    lines = lambda messages: [canonical(m).decode() + "\n" for m in messages]  # noqa: E731
    (live.workdir / f"{name}.diff").write_text("".join(difflib.unified_diff(
        lines(expected), lines(got), "expected (backtest)", "live")))


def produce_in_background(live: Live, events: Path) -> subprocess.Popen[bytes]:
    """One event per message, so that processing takes long enough to be interrupted."""
    return subprocess.Popen([sys.executable, "-m", "streams", "produce", "--events",
                             str(events), "--quiet"], env=live.env)


def start_replay(live_factory: Callable[..., Live], tmp_path: Path,
                 seed: int) -> tuple[Live, Expected, subprocess.Popen[bytes], Path]:
    """A worker `w1`, ready, the first half of the scenario being produced to it in the
    background, and the second half's file."""
    live = live_factory(SLOS, SRE_IDLE_TIMEOUT=REPLAY_IDLE)
    expected = expected_run(live, tmp_path, seed=seed)
    first, second = expected.halves()
    live.start_worker("w1")
    return live, expected, produce_in_background(live, first), second


def test_sigkill_mid_stream_loses_nothing_and_repeats_no_alert(
    live_factory: Callable[..., Live], tmp_path: Path,
) -> None:
    live, expected, producer, rest = start_replay(live_factory, tmp_path, seed=11)
    first_page = next(a for a in expected.alerts if a["severity"] == "page")
    cut = orjson.loads(rest.read_bytes().split(b"\n", 1)[0])["ts"]
    assert parse_ts(first_page["at"]) < cut, "the page must come in the first half"  # type: ignore[arg-type]
    # Killed as soon as the outage pages, while events still arrive: the restarted worker
    # must not announce the page again, nor lose or count twice what was in flight.
    wait_for(lambda: any(a["id"] == first_page["id"]
                         for a in read(live, live.settings.topics.alerts, quiet_ms=100)),
             180, live, "the first page")
    kill(live, 0)
    assert producer.wait(300) == 0
    processed = {canonical(b) for b in read(live, live.settings.topics.budgets)}
    assert 0 < len(processed & expected.budgets) < len(expected.budgets), "not killed mid-stream"
    live.start_worker("w1")
    assert produce_in_background(live, rest).wait(300) == 0
    assert_as_uninterrupted(live, expected)
    log = (tmp_path / "w1.log").read_text(errors="replace")
    assert "state restored at input offset" in log, log[-3000:]


def test_state_moves_with_partitions_to_a_new_worker_and_a_survivor(
    live_factory: Callable[..., Live], tmp_path: Path,
) -> None:
    live, expected, producer, rest = start_replay(live_factory, tmp_path, seed=12)
    wait_for(lambda: len(read(live, live.settings.topics.budgets, quiet_ms=100)) > 100, 120, live,
             "the first worker to make progress")
    live.start_worker("w2")  # takes over half of the partitions, state included
    wait_for(lambda: "state restored at input offset" in (tmp_path / "w2.log").read_text(
        errors="replace"), 120, live, "the second worker to restore a partition")
    kill(live, 0)  # the second worker, now the survivor, takes over the rest
    assert producer.wait(300) == 0
    processed = {canonical(b) for b in read(live, live.settings.topics.budgets)}
    assert len(processed & expected.budgets) < len(expected.budgets), "handed over after the end"
    assert produce_in_background(live, rest).wait(300) == 0
    assert_as_uninterrupted(live, expected)
    log = (tmp_path / "w2.log").read_text(errors="replace")
    assert "input partitions assigned: [0, 1, 2, 3]" in log, log[-3000:]


def test_a_restarted_worker_checks_what_it_read_ahead_against_another_workers_writes(
    live_factory: Callable[..., Live], tmp_path: Path,
) -> None:
    """Killed while a second worker runs, the first comes back to partitions the second has
    stored meanwhile (and may still store while the first rejoins): it reads their state while
    rejoining, and whether that state serves or is read anew (that depends on timing), nothing
    is lost or counted twice."""
    live, expected, producer, rest = start_replay(live_factory, tmp_path, seed=13)
    wait_for(lambda: len(read(live, live.settings.topics.budgets, quiet_ms=100)) > 100, 120, live,
             "the first worker to make progress")
    live.start_worker("w2")
    w2_log = tmp_path / "w2.log"
    wait_for(lambda: "state restored at input offset" in w2_log.read_text(errors="replace"), 120,
             live, "the second worker to restore a partition")
    kill(live, 0)
    wait_for(lambda: "input partitions assigned: [0, 1, 2, 3]" in w2_log.read_text(
        errors="replace"), 120, live, "the second worker to hold every partition")
    live.start_worker("w1")  # its note names the partitions it held before the kill
    assert producer.wait(300) == 0
    assert produce_in_background(live, rest).wait(300) == 0
    assert_as_uninterrupted(live, expected)
    log = (tmp_path / "w1.log").read_text(errors="replace")
    assert "state read ahead in" in log, log[-3000:]
