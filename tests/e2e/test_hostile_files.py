"""`slo validate` and `backtest` answer any file in seconds: exit 0 or 2, one line, no traceback."""

from __future__ import annotations

import io
import time
from pathlib import Path

import orjson
import pytest

from streams.cli.main import run

LAUGHS = "\n".join(
    ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    + [f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]" for a, b in zip("abcdefgh", "bcdefghi", strict=True)]
)
GOOD = """apiVersion: sre-streams/v1
slos:
  - name: web
    service: web
    objective: 0.99
    window: {window}
    sli: {{availability: {{}}}}
"""
HOSTILE_SLO_FILES = {
    "billion laughs": LAUGHS + "\n",
    "bomb in a name": LAUGHS + "\napiVersion: sre-streams/v1\nslos:\n  - name: *i\n",
    "bomb in policy.exceptions": LAUGHS + "\n" + GOOD.format(window="30d")
    + "defaults:\n  policy:\n    exceptions: *i\n",
    "400-digit objective": GOOD.format(window="30d").replace("0.99", "1" + "0" * 400),
    "400-digit window": GOOD.format(window="1" + "0" * 400),
    "nested lists": "slos: " + "[" * 3000 + "]" * 3000 + "\n",
    "window of 317 years": GOOD.format(window="10000000070s"),
    "a key twice": GOOD.format(window="30d") + "apiVersion: sre-streams/v1\n",
}


def cli(*argv: str) -> tuple[int, str, float]:
    stderr = io.StringIO()
    started = time.monotonic()
    code = run(list(argv), io.BytesIO(), stderr)
    return code, stderr.getvalue(), time.monotonic() - started


@pytest.mark.parametrize("name", HOSTILE_SLO_FILES)
def test_slo_validate_refuses_a_hostile_file_in_one_line(tmp_path: Path, name: str) -> None:
    path = tmp_path / "slos.yaml"
    path.write_text(HOSTILE_SLO_FILES[name])
    code, err, seconds = cli("slo", "validate", str(path))
    assert code == 2 and seconds < 10
    assert err.count("\n") == 1 and "Traceback" not in err and len(err) < 400, err


HOSTILE_EVENTS = {
    "stamped 1e300": [b'{"ts": 1e300, "service": "web", "status": 200}'],
    "first stamped 0": [b'{"ts": 0, "service": "web", "status": 200}'],
    "nested 300 deep in an array": [
        b'[{"ts": 1795000000, "service": "web", "status": "bad", "x": '
        + b'{"a": ' * 300 + b"1" + b"}" * 300 + b"}]"],
    "counts of 2^64": [b'{"ts": 1795000000, "slo": "web", "good": 18446744073709551615, '
                       b'"total": 18446744073709551615}'],
}


@pytest.mark.parametrize("name", HOSTILE_EVENTS)
def test_backtest_answers_a_hostile_events_file_at_once(tmp_path: Path, name: str) -> None:
    slos = tmp_path / "slos.yaml"
    slos.write_text(GOOD.format(window="30d"))
    events = tmp_path / "events.jsonl"
    fine = orjson.dumps({"ts": 1_796_000_000, "service": "web", "status": 200})
    events.write_bytes(b"\n".join([*HOSTILE_EVENTS[name], fine]) + b"\n")
    dead = tmp_path / "dead.jsonl"
    code, err, seconds = cli("backtest", "--slos", str(slos), "--events", str(events),
                             "--dead-letters", str(dead), "--quiet")
    assert code == 0 and seconds < 10 and "Traceback" not in err
    assert err.count("\n") <= 1, err  # the refused line, named
    assert len(dead.read_bytes().splitlines()) == 1


@pytest.mark.parametrize("command", [["worker"], ["produce", "--events", "EVENTS"],
                                     ["tail", "alerts", "--timeout", "5s"]])
def test_an_unreachable_broker_is_one_line_and_exit_1(tmp_path: Path, command: list[str]) -> None:
    from streams.runtime.kafka.local_broker import free_port

    slos = tmp_path / "slos.yaml"
    slos.write_text(GOOD.format(window="30d"))
    events = tmp_path / "events.jsonl"
    events.write_bytes(orjson.dumps({"ts": 1_796_000_000, "service": "web", "status": 200}) + b"\n")
    argv = [str(events) if arg == "EVENTS" else arg for arg in command]
    broker = f"kafka://127.0.0.1:{free_port()}"  # nothing listens there
    code, err, seconds = cli(*argv, "--broker", broker, "--slos", str(slos)) \
        if command[0] != "tail" else cli(*argv, "--broker", broker)
    assert code == 1 and seconds < 60
    assert err.count("\n") == 1 and err.startswith(f"sre-streams {command[0]}: error: broker {broker}")
