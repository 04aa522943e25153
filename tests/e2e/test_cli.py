"""The command line: exit codes, one-line errors, and backtest output checked against schemas."""

from __future__ import annotations

import gzip
import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from streams.domain.timestamps import parse_ts
from streams.synthetic.traffic import iter_jsonl, preset
from tests.conftest import assert_valid
from tests.e2e.helpers import cli

ROOT = Path(__file__).resolve().parents[2]
SLOS = ROOT / "examples" / "slos.yaml"
START = parse_ts("2026-11-23T00:00:00Z")


@pytest.fixture(scope="module")
def outage_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("events") / "outage.jsonl"
    # 108,000 events: the outage pages past min_events, and a backtest of them takes a second.
    scenario = preset("outage", start=START, duration=3 * 3600, rate=10, seed=3)
    path.write_bytes(b"".join(iter_jsonl(scenario)))
    return path


def test_slo_validate_accepts_a_good_file() -> None:
    code, out, err = cli("slo", "validate", str(SLOS))
    assert code == 0, err
    assert out.decode().startswith(f"{SLOS}: OK, 4 SLO(s)")


def test_slo_validate_names_every_problem_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: sre-streams/v1\nslos:\n"
                   "  - {name: a, service: s, objective: 1.0, sli: {availability: {}}}\n"
                   "  - {name: b, service: s, objective: 0.9, sli: {latency: {}}}\n")
    code, out, err = cli("slo", "validate", str(bad))
    assert code == 2 and out == b""
    assert "slos[0].objective: must be < 1, got 1.0" in err
    assert "slos[1].sli.latency.threshold_ms: is required" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["slo", "validate", "/nonexistent.yaml"], "/nonexistent.yaml: cannot read file"),
        (["backtest", "--slos", str(SLOS)], "the following arguments are required: --events"),
        (["backtest", "--slos", str(SLOS), "--events", "/nonexistent.jsonl"],
         "cannot read events file /nonexistent.jsonl: no such file"),
        (["backtest", "--slos", "/nonexistent.yaml", "--events", str(SLOS)],
         "invalid SLO file /nonexistent.yaml: cannot read file"),
        (["backtest", "--slos", str(SLOS), "--events", str(SLOS), "--lateness", "soon"],
         "--lateness: expected a duration"),
        (["backtest", "--events", str(SLOS)], "no SLO file: pass --slos FILE or set SRE_SLOS"),
        (["launch"], "invalid choice: 'launch'"),
    ],
)
def test_bad_usage_exits_2_with_one_line(argv: list[str], message: str,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SRE_SLOS", raising=False)
    code, _, err = cli(*argv)
    assert code == 2
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_backtest_of_an_outage_pages_for_the_failing_service(outage_file: Path,
                                                            tmp_path: Path) -> None:
    budgets = tmp_path / "budgets.jsonl"
    code, out, err = cli("backtest", "--slos", str(SLOS), "--events", str(outage_file),
                         "--budgets", str(budgets))
    assert code == 0, err
    alerts = [orjson.loads(line) for line in out.splitlines()]
    pages = {(a["slo"], a["rule"]) for a in alerts if a["severity"] == "page"}
    assert ("checkout-availability", "page-fast") in pages
    assert all(a["service"] == "checkout" for a in alerts if a["severity"] == "page")
    for alert in alerts:
        assert_valid("sre.alerts", alert)
    snapshots = [orjson.loads(line) for line in budgets.read_bytes().splitlines()]
    assert snapshots
    for snapshot in snapshots[:: max(1, len(snapshots) // 200)]:
        assert_valid("sre.budgets", snapshot)
    assert "backtest:" in err and "page-fast" in err


def test_gzip_and_batched_input_give_the_same_alerts(outage_file: Path, tmp_path: Path) -> None:
    _, plain, _ = cli("backtest", "--quiet", "--slos", str(SLOS), "--events", str(outage_file))
    packed = tmp_path / "events.jsonl.gz"
    events = [orjson.loads(line) for line in outage_file.read_bytes().splitlines()]
    lines = [orjson.dumps(events[i:i + 100]) for i in range(0, len(events), 100)]
    packed.write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    code, batched, err = cli("backtest", "--quiet", "--slos", str(SLOS), "--events", str(packed))
    assert code == 0, err
    assert batched == plain and plain


def test_bad_lines_are_reported_counted_and_dead_lettered(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    good = {"ts": START, "service": "checkout", "status": 200, "region": "eu", "latency_ms": 5}
    events.write_bytes(b"\n".join([
        orjson.dumps(good),
        b"{not json",
        orjson.dumps({**good, "status": "oops"}),
        orjson.dumps([good, {"slo": "checkout-availability", "good": 5, "total": 2, "ts": START}]),
        b"[]",
        b"42",
        orjson.dumps({**good, "ts": START + 1}),
    ]) + b"\n")
    dead = tmp_path / "dead.jsonl"
    code, _, err = cli("backtest", "--slos", str(SLOS), "--events", str(events),
                         "--dead-letters", str(dead))
    assert code == 0, err
    records = [orjson.loads(line) for line in dead.read_bytes().splitlines()]
    assert [(r["offset"], r["reason"].split(":")[0]) for r in records] == [
        (2, "invalid JSON"), (3, "status must be an integer"), (4, "good > total"),
        (5, "empty batch"), (6, "expected a JSON object, got a number"),
    ]
    for record in records:
        assert_valid("sre.dead-letter", record)
    assert f"{events}:2: invalid JSON" in err
    assert "dead-lettered 5" in err and "counted 3" in err


def test_the_installed_command_runs() -> None:
    result = subprocess.run([sys.executable, "-m", "streams", "slo", "validate", str(SLOS)],
                            capture_output=True, text=True, check=False, cwd=ROOT)
    assert result.returncode == 0, result.stderr


def test_every_registered_command_is_listed_and_has_its_own_help(
        capsys: pytest.CaptureFixture[str]) -> None:
    from streams.cli.main import COMMANDS, build_parser

    names = [command.name for command in COMMANDS]
    assert names == ["backtest", "slo", "worker", "demo", "produce", "tail", "generate",
                     "incidents", "silences", "tune", "toil", "capacity"]
    listing = build_parser().format_help()
    for name in names:
        assert re.search(rf"^    {name}\b", listing, re.MULTILINE), name
        with pytest.raises(SystemExit) as exited:
            cli(name, "--help")
        assert exited.value.code == 0
        assert capsys.readouterr().out.startswith(f"usage: sre-streams {name}")


def test_a_bad_duration_flag_is_one_line_and_exits_2() -> None:
    code, out, err = cli("backtest", "--slos", str(SLOS), "--events", str(SLOS), "--lateness", "soon")
    assert code == 2 and out == b""
    assert err == ("sre-streams backtest: error: --lateness: expected a duration like 30s, 5m, 1h, "
                   "30d or 2w, got 'soon'\n")
