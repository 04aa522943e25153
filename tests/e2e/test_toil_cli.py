"""`sre-streams toil report` on files: JSON against its schema, Markdown and HTML, bad lines."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from streams.domain.timestamps import parse_ts
from streams.synthetic.toil import RecurringTask, work_events
from tests.conftest import assert_valid, write_events
from tests.e2e.helpers import cli

START = parse_ts("2026-10-05T00:00:00Z")
SLOS = """apiVersion: sre-streams/v1
slos:
  - {name: api, service: api, objective: 0.999, sli: {availability: {}}, labels: {team: payments}}
toil:
  cap: 0.1
  teams: [{name: payments, people: 2, hours_per_week: 40}]
  tasks: [{task: rotate TLS certs, build_hours: 16, maintain_hours_per_year: 4}]
"""


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path, Path]:
    slos = tmp_path / "slos.yaml"
    slos.write_text(SLOS)
    tasks = [RecurringTask("payments", "rotate TLS certs", 3, 30),
             RecurringTask("payments", "restart consumer", 10, 20),
             RecurringTask("payments", "roadmap", 5, 240, kind="project")]
    work = write_events(tmp_path / "toil.jsonl", list(work_events(tasks, START, 4, {"payments": ["ana"]})))
    with work.open("ab") as out:
        out.write(b'{"ts": "2026-10-06T00:00:00Z", "team": "payments", "by": "x", "task": "t",'
                  b' "minutes": -5, "kind": "toil"}\nnot json\n')
    requests = write_events(tmp_path / "requests.jsonl",
                            [{"ts": START + i, "service": "api", "status": 200} for i in range(1, 2001)])
    return slos, work, requests


def test_the_json_report_follows_its_schema_and_bad_lines_are_named(
        files: tuple[Path, Path, Path], tmp_path: Path) -> None:
    slos, work, requests = files
    code, out, err = cli("toil", "report", "--slos", str(slos), "--events", str(work),
                         "--requests", str(requests), "--json", "--at", "2026-11-02T00:00:00Z")
    assert code == 0, err
    report = orjson.loads(out)
    assert_valid("toil-report", report)
    [team] = report["teams"]
    # 12 × 30 min + 40 × 20 min = 19.33 h of 2 × 40 × 4 = 320 h
    assert team["toil_hours"] == pytest.approx(19.33, abs=0.01)
    assert team["toil_share"] == pytest.approx(19.33 / 320, abs=0.0001) and not team["over_cap"]
    assert team["toil_per_million_requests"] == pytest.approx(19.33 / 0.002, rel=0.001)
    assert [c["task"] for c in report["candidates"]] == ["restart consumer", "rotate TLS certs"]
    assert "toil.jsonl:73: invalid work event: minutes must be in" in err
    assert "toil.jsonl:74: invalid work event: not JSON" in err


def test_markdown_and_html_reports(files: tuple[Path, Path, Path], tmp_path: Path) -> None:
    slos, work, _ = files
    for suffix in ("md", "html"):
        target = tmp_path / f"toil.{suffix}"
        code, out, err = cli("toil", "report", "--slos", str(slos), "--events", str(work),
                             "--report", str(target))
        assert code == 0, err
        text = target.read_text()
        assert "restart consumer" in text and "payments" in text
        assert b"automation candidates" in out
        assert "http://" not in text and "https://" not in text
    assert target.read_text().startswith("<!doctype html>")


def test_usage_errors_are_one_line(files: tuple[Path, Path, Path], tmp_path: Path) -> None:
    slos, work, _ = files
    code, _, err = cli("toil", "report", "--slos", str(slos), "--events", str(tmp_path / "none"))
    assert code == 2 and "cannot read" in err and err.count("\n") == 1
    code, _, err = cli("toil", "report", "--slos", str(slos), "--events", str(work), "--since", "soon")
    assert code == 2 and "soon" in err
    code, _, err = cli("toil", "report", "--slos", str(slos), "--events", str(work), "--report", "x.pdf")
    assert code == 2 and ".md or .html" in err
    code, _, err = cli("toil", "log", "--team", "p", "--task", "t", "--minutes", "-1", "--by", "a")
    assert code == 2 and "minutes" in err
