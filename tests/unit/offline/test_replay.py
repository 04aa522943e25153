"""The replay loop shared by backtest and tune: one pass over a file into several engines."""

from __future__ import annotations

import io
from pathlib import Path

import orjson

from streams.domain.engine.evaluation import Engine, EngineSettings
from streams.domain.slo.loader import parse_slo_text
from streams.offline.replay import BadLine, replay

SLO_FILE = parse_slo_text("""
apiVersion: sre-streams/v1
slos:
  - {name: api, service: api, objective: 0.99, sli: {availability: {}}}
""")
START = 25920 * 68000.0


def test_every_engine_gets_every_event_and_the_first_reports_bad_lines(tmp_path: Path) -> None:
    good = {"ts": START, "service": "api", "status": 200}
    lines = [orjson.dumps(good), b"", b"{oops", orjson.dumps([good, {**good, "status": "x"}]),
             orjson.dumps({**good, "ts": START + 30})]
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    engines = [Engine(SLO_FILE, EngineSettings(budget_interval=None)) for _ in range(2)]
    drained: list[int] = []
    bad: list[BadLine] = []
    stderr = io.StringIO()
    stats = replay(path, engines, lambda: drained.append(len(engines[1].drain()[0])),
                   stderr=stderr, progress=False, label="test", on_bad_line=bad.append)
    assert [(line.number, line.reason.split(":")[0]) for line in bad] == [
        (3, "invalid JSON"), (4, "status must be an integer")]
    assert bad[1].payload == orjson.dumps({**good, "status": "x"})
    assert sum(stats.bad_lines.values()) == 2 and stats.lines == 5
    assert stderr.getvalue().startswith(f"{path}:3: invalid JSON")
    # Only the reference counts the refused line among its events.
    assert (engines[0].stats.events, engines[1].stats.events) == (5, 4)
    assert engines[0].stats.samples == engines[1].stats.samples == 3
    assert len(drained) == 2, "after each block and at the end"
