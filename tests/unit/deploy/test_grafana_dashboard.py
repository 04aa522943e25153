"""deploy/grafana/sre-streams.json: what its generator makes, laid out without overlaps, every
query over the dashboard's own variables and the worker's metrics."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "deploy" / "grafana" / "dashboard.py"
DASHBOARD = ROOT / "deploy" / "grafana" / "sre-streams.json"
BUILT_IN = {"__rate_interval", "__interval", "__range"}


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dashboard", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def loaded() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return data


def panels() -> list[dict[str, Any]]:
    return [p for p in loaded()["panels"] if p["type"] != "row"]


def test_the_json_is_what_the_script_generates() -> None:
    assert DASHBOARD.read_text(encoding="utf-8") == generator().render()
    done = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr


def test_the_check_fails_on_a_hand_edited_file(tmp_path: Path, monkeypatch: Any) -> None:
    module = generator()
    stale = tmp_path / "sre-streams.json"
    stale.write_text(DASHBOARD.read_text(encoding="utf-8").replace("Events per second",
                                                                   "Events a second"))
    monkeypatch.setattr(module, "OUTPUT", stale)
    assert module.main(["--check"]) == 1
    assert module.main(["--write"]) == 0 and module.main(["--check"]) == 0


def test_the_issue_asks_for_these_panels() -> None:
    titles = {p["title"] for p in panels()}
    assert len(titles) == len(panels()), "two panels with one title"
    assert {"Error budget remaining, worst series", "Worst burn rate per window", "Rules firing",
            "Deploy gate", "SLI per window", "Burn rate per window", "Events per second",
            "Consumer lag per partition", "Dead letters by reason", "Late events",
            "Responder leader", "Checkpoint latency", "Notification latency"} <= titles
    rows = [p["title"] for p in loaded()["panels"] if p["type"] == "row"]
    assert rows == ["SLO overview", "SLO drill-down", "Worker health"]


def test_panels_have_unique_ids_and_do_not_overlap() -> None:
    everything = loaded()["panels"]
    assert len({p["id"] for p in everything}) == len(everything)
    cells: dict[tuple[int, int], str] = {}
    for item in everything:
        grid = item["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, item["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{item['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = item["title"]


def test_every_query_uses_defined_variables_and_the_workers_metrics() -> None:
    data = loaded()
    defined = {v["name"] for v in data["templating"]["list"]}
    assert {"datasource", "job", "service", "slo", "window", "filters"} <= defined
    assert any(v["type"] == "adhoc" for v in data["templating"]["list"])  # series labels
    exposed = set(re.findall(r"\| `(sre_[a-z_]+)`", (ROOT / "docs" / "operating.md").read_text()))
    exposed |= {"sre_slo_sli", "sre_slo_burn_rate", "sre_slo_error_budget_remaining",
                "sre_slo_objective", "sre_alert_firing", "sre_slo_snapshot_timestamp_seconds",
                "sre_budget_policy_state"}
    for item in panels():
        assert item["datasource"]["uid"] == "${datasource}", item["title"]
        assert item["targets"], item["title"]
        for query in item["targets"]:
            used = set(re.findall(r"\$\{?(\w+)", query["expr"]))
            assert used <= defined | BUILT_IN, (item["title"], used - defined)
            for metric in re.findall(r"\b(sre_[a-z_]+?)(?:_bucket|_total)?\b", query["expr"]):
                assert metric.removesuffix("_total") in {m.removesuffix("_total")
                                                          for m in exposed}, metric
