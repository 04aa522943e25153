"""A real Alertmanager fed by the worker (`alertmanager_api` receiver): the alert is active
with its labels while it fires, re-sent before its `endsAt`, silenced by a silence made in
Alertmanager, and gone once resolved."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.domain.timestamps import format_ts, parse_ts
from streams.runtime.kafka.local_broker import free_port
from tests.conftest import system_binary
from tests.integration.conftest import Live, send_keyed, wait_for

pytestmark = pytest.mark.integration

AM_CONFIG = """global: {resolve_timeout: 5m}
route: {receiver: blackhole, group_wait: 1s, group_interval: 1s, repeat_interval: 1h}
receivers: [{name: blackhole}]
"""

SLO_FILE = """apiVersion: sre-streams/v1
slos:
  - name: api-availability
    service: api
    objective: 99.9%
    sli: {{availability: {{}}}}
    group_by: [region]
    labels: {{team: edge}}
notify:
  receivers:
    - {{name: am, alertmanager_api: {{url: "{url}", resend: 3s}}}}
  routes:
    - {{receiver: am}}
"""


class Alertmanager:
    def __init__(self, url: str, process: subprocess.Popen[bytes]) -> None:
        self.url, self.process = url, process

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=5) as answer:
            return orjson.loads(answer.read())

    def post(self, path: str, body: object) -> Any:
        request = urllib.request.Request(f"{self.url}{path}", data=orjson.dumps(body),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as answer:
            return orjson.loads(answer.read())

    def alerts(self) -> list[dict[str, Any]]:
        return list(self.get("/api/v2/alerts"))


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[Alertmanager]:
    binary = system_binary("prometheus-alertmanager",
                           "the alertmanager_api receiver is tested against a real Alertmanager")
    config = tmp_path / "alertmanager.yml"
    config.write_text(AM_CONFIG)
    port = free_port()
    log = (tmp_path / "alertmanager.log").open("wb")
    process = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.path={tmp_path / 'am-data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
        stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    running = Alertmanager(f"http://127.0.0.1:{port}", process)
    deadline = time.monotonic() + 30
    while True:
        try:
            running.get("/api/v2/status")
            break
        except OSError:
            assert process.poll() is None, (tmp_path / "alertmanager.log").read_text()
            assert time.monotonic() < deadline, "Alertmanager did not start"
            time.sleep(0.2)
    yield running
    process.terminate()
    process.wait(10)
    log.close()


def alert(status: str, at: float, started: float) -> dict[str, object]:
    return {"kind": "alert", "version": 1, "id": "a-eu", "status": status,
            "slo": "api-availability", "service": "api", "series": {"region": "eu"},
            "rule": "page-fast", "severity": "page", "long_window": "1h", "short_window": "5m",
            "threshold": 14.4, "burn_rate_long": 20.0, "burn_rate_short": 30.0,
            "error_budget_remaining": 0.9, "at": format_ts(at), "started_at": format_ts(started),
            "labels": {"team": "edge"},
            "annotations": {"summary": "burning", "runbook_url": "https://runbooks.example/api"}}


def send_alert(live: Live, message: dict[str, object]) -> None:
    send_keyed(live, live.settings.topics.alerts,
               [(orjson.dumps([message["slo"], message["series"]]), orjson.dumps(message))])


def test_alerts_reach_a_real_alertmanager_are_silenced_there_and_resolve(
    live_factory: Callable[..., Live], tmp_path: Path, alertmanager: Alertmanager,
) -> None:
    slos = tmp_path / "slos.yaml"
    slos.write_text(SLO_FILE.format(url=alertmanager.url))
    live = live_factory(slos)
    live.start_worker("w1")
    started = time.time() - 30
    send_alert(live, alert("firing", started, started))
    wait_for(lambda: bool(alertmanager.alerts()), 60, live, "the alert in Alertmanager")
    [active] = alertmanager.alerts()
    assert active["status"]["state"] == "active"
    assert active["labels"] == {"alertname": "ErrorBudgetBurn", "slo": "api-availability",
                                "service": "api", "region": "eu", "team": "edge",
                                "rule": "page-fast", "severity": "page"}
    assert active["annotations"]["runbook_url"] == "https://runbooks.example/api"
    assert active["annotations"]["incident"].startswith("inc-")
    assert float(active["annotations"]["burn_rate_short"]) == pytest.approx(30.0)
    assert parse_ts(active["startsAt"]) == pytest.approx(started, abs=0.01)
    assert active["generatorURL"] == f"{live.api['w1']}/v1/alerts"
    # Re-sent every 3 s, each valid for four re-sends: its endsAt moves on.
    first_end = parse_ts(active["endsAt"])
    wait_for(lambda: parse_ts(alertmanager.alerts()[0]["endsAt"]) > first_end + 1, 20, live,
             "a re-send moving endsAt")

    silence = alertmanager.post("/api/v2/silences", {
        "matchers": [{"name": "slo", "value": "api-availability", "isRegex": False},
                     {"name": "rule", "value": "page-fast", "isRegex": False}],
        "startsAt": format_ts(time.time() - 1), "endsAt": format_ts(time.time() + 3600),
        "createdBy": "alice", "comment": "known"})
    wait_for(lambda: alertmanager.alerts()[0]["status"]["state"] == "suppressed", 20, live,
             "the silence in Alertmanager")
    assert alertmanager.alerts()[0]["status"]["silencedBy"] == [silence["silenceID"]]

    valid_until = parse_ts(alertmanager.alerts()[0]["endsAt"])
    send_alert(live, alert("resolved", time.time(), started))
    wait_for(lambda: not alertmanager.alerts(), 30, live, "the alert resolved in Alertmanager")
    assert time.time() < valid_until, "resolved by the worker, not expired in Alertmanager"
    time.sleep(3)  # a re-send after the resolution would bring it back
    assert alertmanager.alerts() == []
