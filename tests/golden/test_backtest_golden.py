"""Backtest output is frozen: alerts, budgets and dead letters byte for byte.

The inputs (`events.jsonl.gz`, `slos.yaml`) cover availability and latency SLIs, `group_by`
with the series cap, `match`, count events, arrays, bad lines and shuffled input; the expected
outputs were recorded by `make_golden.py --record`. A change that alters any byte of them is
a change of behaviour and must say so.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pytest

from streams.cli.main import run
from tests.golden.make_golden import HERE, backtest_args


def test_backtest_writes_the_recorded_alerts_budgets_and_dead_letters(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(HERE)
    stderr = io.StringIO()
    assert run(backtest_args(tmp_path), io.BytesIO(), stderr) == 0, stderr.getvalue()
    expected = HERE / "expected"
    alerts = (tmp_path / "alerts.jsonl").read_bytes()
    assert alerts.count(b"\n") > 500  # the inputs do raise alerts
    assert alerts == (expected / "alerts.jsonl").read_bytes()
    with gzip.open(expected / "budgets.jsonl.gz", "rb") as budgets:
        assert (tmp_path / "budgets.jsonl").read_bytes() == budgets.read()
    assert (tmp_path / "dead-letters.jsonl").read_bytes() == (expected / "dead-letters.jsonl").read_bytes()
