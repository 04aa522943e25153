"""deploy/prometheus/rules.yml: checked and unit-tested by the real promtool, every alert shown
firing and not firing, every runbook link landing on a section of docs/operating.md."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import system_binary

ROOT = Path(__file__).resolve().parents[3]
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "rules.test.yml"
RUNBOOKS = ROOT / "docs" / "operating.md"


def alerts() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def promtool(*args: str, cwd: Path = RULES.parent) -> subprocess.CompletedProcess[str]:
    return subprocess.run([system_binary("promtool", "the worker's alert rules are checked by "
                                         "promtool"), *args], capture_output=True, text=True,
                          timeout=60, check=False, cwd=cwd)


def test_promtool_checks_the_rules() -> None:
    done = promtool("check", "rules", RULES.name)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {sum(len(g['rules']) for g in yaml.safe_load(RULES.read_text())['groups'])}" \
        " rules found" in done.stdout


def test_promtool_rule_tests_pass() -> None:
    done = promtool("test", "rules", RULE_TESTS.name)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_promtool_rule_tests_can_fail(tmp_path: Path) -> None:
    """The same tests against rules with one threshold moved: promtool reports the change."""
    changed = RULES.read_text(encoding="utf-8").replace("sre_streams:dead_letters:rate5m > 1",
                                                        "sre_streams:dead_letters:rate5m > 100")
    assert changed != RULES.read_text(encoding="utf-8")
    (tmp_path / RULES.name).write_text(changed, encoding="utf-8")
    (tmp_path / RULE_TESTS.name).write_text(RULE_TESTS.read_text(encoding="utf-8"))
    done = promtool("test", "rules", RULE_TESTS.name, cwd=tmp_path)
    assert done.returncode != 0
    assert "SreStreamsDeadLetters" in done.stdout + done.stderr


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    cases = [case for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]
             for case in test.get("alert_rule_test", [])]
    for rule in alerts():
        mine = [case for case in cases if case["alertname"] == rule["alert"]]
        assert any(case["exp_alerts"] for case in mine), f"{rule['alert']} never fires in a test"
        assert any(not case["exp_alerts"] for case in mine), f"{rule['alert']}: no quiet case"


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens."""
    return {re.sub(r"[^a-z0-9 _-]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
            for line in markdown.splitlines() if line.startswith("#")}


def test_every_alert_links_its_runbook_section() -> None:
    anchors = _anchors(RUNBOOKS.read_text(encoding="utf-8"))
    for rule in alerts():
        path, _, anchor = rule["annotations"]["runbook_url"].partition("#")
        assert (ROOT / path).resolve() == RUNBOOKS.resolve(), rule["alert"]
        assert anchor in anchors, f"{rule['alert']}: no section #{anchor} in {path}"
        assert rule["labels"]["severity"] in {"page", "ticket"}
