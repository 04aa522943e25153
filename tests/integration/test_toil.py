"""Runbooks that run, and the live toil ledger, on the real broker with a real HTTP receiver."""

from __future__ import annotations

import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.domain.timestamps import format_ts
from tests.conftest import assert_valid
from tests.integration.conftest import HttpReceiver, Live, kill, read, send, wait_for

pytestmark = pytest.mark.integration

SLO_FILE = """apiVersion: sre-streams/v1
slos:
  - name: checkout-availability
    service: checkout
    objective: 99.9%
    sli: {{availability: {{}}}}
    group_by: [region]
    labels: {{team: payments}}
notify:
  receivers:
    - {{name: pager, webhook: {{url: "{url}pager", format: raw}}}}
  routes:
    - {{receiver: pager}}
toil:
  cap: 0.5
  teams: [{{name: payments, people: 1, hours_per_week: 40}}]
  runbooks:
    - name: restart-consumer
      match: {{slo: checkout-availability, rule: page-fast}}
      action: {{webhook: {{url: "{url}restart", headers_env: {{Authorization: TEST_JOBS_TOKEN}},
                          body: {{service: "{{service}}", incident: "{{incident}}"}}}}}}
      mode: auto
      max_per_hour: 2
      saves_minutes: 20
    - name: scale-out
      match: {{service: checkout}}
      action: {{webhook: {{url: "{url}scale"}}}}
      mode: suggest
      url: https://runbooks.example/scale-out
"""


def page(region: str, at: float, status: str = "firing") -> dict[str, object]:
    return {"kind": "alert", "version": 1, "id": f"page-{region}", "status": status,
            "slo": "checkout-availability", "service": "checkout", "series": {"region": region},
            "rule": "page-fast", "severity": "page", "long_window": "1h", "short_window": "5m",
            "threshold": 14.4, "burn_rate_long": 20.0, "burn_rate_short": 30.0,
            "error_budget_remaining": 0.9, "at": format_ts(at), "started_at": format_ts(at),
            "labels": {"team": "payments"}, "annotations": {"summary": "burning"}}


def get(live: Live, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(live.api["w2"] + path, timeout=5) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_auto_runbooks_run_once_per_incident_within_their_limit_across_a_kill(
    live_factory: Callable[..., Live], tmp_path: Path,
) -> None:
    with HttpReceiver() as receiver:
        receiver.answer("restart", 503, 503, 503)  # failing when the worker is killed
        slos = tmp_path / "slos.yaml"
        slos.write_text(SLO_FILE.format(url=receiver.url("")))
        live = live_factory(slos, TEST_JOBS_TOKEN="Bearer s3cret")
        live.start_worker("w1")
        now = time.time() - 600
        # A burst of four paging incidents within a minute: max_per_hour lets two run.
        send(live, live.settings.topics.alerts, *(page(r, now + i * 10)
                                                   for i, r in enumerate(("eu", "us", "ap", "sa"))))
        wait_for(lambda: "retry 1" in (tmp_path / "w1.log").read_text(errors="replace"), 120, live,
                 "the first runbook call to fail")
        kill(live, 0)
        assert not receiver.received("restart", 202)
        live.start_worker("w2")
        wait_for(lambda: len(receiver.received("restart", 202)) >= 2, 120, live,
                 "both runs after the restart")
        time.sleep(3)  # time for a third call, which must not come

        calls = receiver.received("restart")
        accepted = Counter(r["key"] for r in calls if r["status"] == 202)
        assert len(accepted) == 2 and set(accepted.values()) == {1}, accepted
        incidents = read(live, live.settings.topics.incidents, quiet_ms=300)
        opened = {str(m["id"]) for m in incidents if m["event"] == "opened"}
        assert len(opened) == 4
        ran_for = {r["body"]["incident"] for r in calls}
        assert len(ran_for) == 2 and ran_for <= opened
        assert {r["key"] for r in calls} == {f"runbook:restart-consumer:{i}" for i in ran_for}
        assert {r["authorization"] for r in calls} == {"Bearer s3cret"}
        assert {r["body"]["service"] for r in calls} == {"checkout"}
        assert receiver.received("scale") == [], "a suggested runbook is never called"
        assert "s3cret" not in live.logs()

        # The pager sees the suggestion; the events carry it.
        for message in incidents:
            assert_valid("sre.incidents", message)
        assert {"name": "scale-out", "url": "https://runbooks.example/scale-out"} in \
            incidents[0]["runbooks"]  # type: ignore[operator]
        wait_for(lambda: len(receiver.received("pager", 202)) >= 4, 60, live, "the pages")

        # Outcomes on sre.toil: two succeeded runs, 20 minutes saved each.
        work = read(live, live.settings.topics.toil, quiet_ms=300)
        for message in work:
            assert_valid("sre.toil", message)
        runs = [m for m in work if m["kind"] == "automated"]
        assert sorted((m["task"], m["outcome"], m["minutes"]) for m in runs) == [
            ("restart-consumer", "succeeded", 20), ("restart-consumer", "succeeded", 20)]
        # The timeline says what ran and what was held back (in the postmortem draft).
        send(live, live.settings.topics.alerts, *(page(r, now + 300, "resolved")
                                                   for r in ("eu", "us", "ap", "sa")))
        wait_for(lambda: sum(m["event"] == "resolved" for m in read(
            live, live.settings.topics.incidents, quiet_ms=200)) == 4, 60, live, "the resolutions")
        shown = live.cli("incidents", "postmortem", sorted(ran_for)[0])
        assert "runbook restart-consumer succeeded (HTTP 202)" in shown.stdout, shown.stdout
        held = sorted(opened - ran_for)[0]
        shown = live.cli("incidents", "postmortem", held)
        assert "runbook restart-consumer not run: its max_per_hour (2) is reached" in shown.stdout

        # Logged toil over the cap raises one toil-cap ticket; the API and metrics show it.
        send(live, live.settings.topics.toil, *({
            "ts": format_ts(now + 60 + i), "team": "payments", "by": "alice",
            "task": "babysit batch jobs", "minutes": 600, "kind": "toil"} for i in range(3 * 4 * 4)))
        send(live, live.settings.topics.toil, {"ts": "yesterday", "team": "x"})
        logged = live.cli("toil", "log", "--team", "payments", "--task", "babysit batch jobs",
                          "--minutes", "45", "--by", "bob", "--ts", format_ts(now + 120))
        assert logged.returncode == 0 and "logged 45 min of toil" in logged.stdout, logged.stderr
        wait_for(lambda: any(m["rule"] == "toil-cap" for m in read(
            live, live.settings.topics.alerts, quiet_ms=200)), 60, live, "the toil-cap alert")

        def toil_report() -> Any:
            status, body = get(live, "/v1/toil")
            assert status == 200, body
            return orjson.loads(body)

        # The alert can come before the last entry is in (the cap was passed before it).
        wait_for(lambda: any(t["minutes"] == 48 * 600 + 45
                             for t in toil_report()["teams"][0]["top_tasks"]), 30, live,
                 "every entry in the report")
        report = toil_report()
        assert_valid("toil-report", report)
        [team] = report["teams"]
        assert team["team"] == "payments" and team["over_cap"]
        assert team["automated_hours_saved"] == pytest.approx(40 / 60, abs=0.01)
        assert team["top_tasks"][0] == {"task": "babysit batch jobs", "minutes": 48 * 600 + 45,
                                        "occurrences": 49}
        _, metrics = get(live, "/metrics")
        assert b'sre_toil_share{team="payments"}' in metrics
        wait_for(lambda: any(m["slo"] == "toil-cap" for m in read(
            live, live.settings.topics.incidents, quiet_ms=200)), 60, live, "the toil-cap ticket")
        dead = read(live, live.settings.topics.dead_letter)
        assert any(str(d["reason"]).startswith("invalid work") for d in dead), dead
