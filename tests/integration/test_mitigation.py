"""Mitigation on the real broker: a regional burn pages once; the page ends (PagerDuty resolves)
while the slow ticket keeps firing; a second burn inside the mitigation pages once more."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.domain.timestamps import format_ts, parse_ts
from streams.synthetic.traffic import Incident, Scenario, iter_jsonl
from tests.conftest import assert_valid
from tests.integration.conftest import HttpReceiver, Live, produce, read, send, wait_for

pytestmark = pytest.mark.integration

ROUTING_KEY = "0123456789abcdef0123456789abcdef"
EVAL_INTERVAL = 10.0  # the worker's default evaluation interval, in event time
MINUTE = 60.0

SLO_FILE = """apiVersion: sre-streams/v1
defaults: {{window: 30d, min_events: 1000}}
slos:
  - name: api-availability
    service: api
    objective: 99.9%
    sli: {{availability: {{bad_status: ["5xx"]}}}}
    group_by: [region]
notify:
  receivers:
    - name: pager
      pagerduty: {{routing_key_env: TEST_PD_KEY, url: "{url}pd"}}
  routes:
    - {{receiver: pager}}
"""


def regional_burns(tmp_path: Path, end: float) -> tuple[Path, Path, float]:
    """Six hours of error-free traffic in two regions, then 30 minutes of 4.7% errors in eu (47 times
    the budget's rate at 99.9%), 10 minutes of good traffic, a second burn of 5 minutes, and
    good traffic until `end`: two files, cut where the second burn begins (returned)."""
    start = end - (360 + 30 + 10 + 5 + 8) * MINUTE
    second = start + 400 * MINUTE
    burns = (Incident("outage", 360 * MINUTE, 30 * MINUTE, region="eu", error_rate=0.047),
             Incident("outage", 400 * MINUTE, 5 * MINUTE, region="eu", error_rate=0.047))
    # No background errors: with them, a young series whose one error falls in its first
    # `min_events` events burns at exactly 1x when it reaches them, and ticket-slow fires for
    # one interval in us for about one start time in twenty (an incident of its own).
    lines = iter_jsonl(Scenario(start=start, duration=end - start, rate=2.0, services=("api",),
                                regions=("eu", "us"), incidents=burns, seed=14,
                                base_error_rate=0.0))
    first, rest = tmp_path / "first.jsonl", tmp_path / "rest.jsonl"
    with first.open("wb") as before, rest.open("wb") as after:
        for line in lines:
            (before if orjson.loads(line)["ts"] < second else after).write(line)
    return first, rest, second


def api(live: Live, path: str) -> Any:
    with urllib.request.urlopen(f"{live.api['w1']}{path}", timeout=5) as answer:
        return orjson.loads(answer.read())


def pages(receiver: HttpReceiver) -> list[tuple[str, str]]:
    return [(r["body"]["event_action"], r["body"]["dedup_key"])
            for r in receiver.received("pd", 202)]


def test_a_regional_burn_pages_once_is_mitigated_when_the_page_ends_and_repages_once(
    live_factory: Callable[..., Live], tmp_path: Path,
) -> None:
    with HttpReceiver() as receiver:
        slos = tmp_path / "slos.yaml"
        slos.write_text(SLO_FILE.format(url=receiver.url("")))
        # Event time follows the data only: the idle clock must not move it past the second
        # file while the first is checked.
        live = live_factory(slos, SRE_IDLE_TIMEOUT="10m", TEST_PD_KEY=ROUTING_KEY)
        live.start_worker("w1")
        first, rest, second = regional_burns(tmp_path, end=time.time() - 60)
        produce(live, first)
        wait_for(lambda: [a for a, _ in pages(receiver)] == ["trigger", "resolve"], 120, live,
                 "the page and its end")

        incidents = read(live, live.settings.topics.incidents, quiet_ms=300)
        for message in incidents:
            assert_valid("sre.incidents", message)
        assert {m["id"] for m in incidents} == {incidents[0]["id"]}, [
            (m["event"], m["id"], m["series"], m["opened_at"]) for m in incidents]
        ident = str(incidents[0]["id"])
        assert incidents[0]["series"] == {"region": "eu"}
        assert {key for _, key in pages(receiver)} == {ident}, "one dedup_key"
        [mitigated] = [m for m in incidents if m["event"] == "mitigated"]
        assert mitigated["status"] == "mitigated" and incidents[-1]["status"] == "mitigated"
        firing = {a["rule"] for a in mitigated["alerts"] if a["status"] == "firing"}  # type: ignore[union-attr]
        assert "ticket-slow" in firing and not any(r.startswith("page") for r in firing)
        # The mitigation is the last paging rule's resolution, within an evaluation interval.
        alerts = read(live, live.settings.topics.alerts, quiet_ms=300)
        [page_end] = [a for a in alerts if a["severity"] == "page" and a["status"] == "resolved"]
        lag = parse_ts(str(mitigated["mitigated_at"])) - parse_ts(str(page_end["at"]))
        assert 0 <= lag <= EVAL_INTERVAL, (lag, page_end)
        assert parse_ts(str(page_end["at"])) < second - 5 * MINUTE, "minutes after the burn"
        assert not any(a["rule"] == "ticket-slow" and a["status"] == "resolved" for a in alerts)

        shown = live.cli("incidents", "show", ident)
        assert shown.returncode == 0, shown.stderr
        assert f"{ident}  P1  mitigated" in shown.stdout
        assert f"mitigated {mitigated['mitigated_at']}" in shown.stdout
        [listed] = [i for i in api(live, "/v1/incidents")["open"] if i["id"] == ident]
        assert listed["status"] == "mitigated"

        produce(live, rest)  # the second burn, inside the mitigation
        wait_for(lambda: [a for a, _ in pages(receiver)] == [
            "trigger", "resolve", "trigger", "resolve"], 120, live, "the second page and its end")
        events = [m["event"] for m in read(live, live.settings.topics.incidents, quiet_ms=300)]
        assert events.count("reopened") == 1 and events.count("mitigated") == 2, events
        assert events[-1] == "mitigated"

        send(live, live.settings.topics.commands,
             {"command": "resolve", "incident": ident, "by": "alice", "ts": format_ts(time.time())})
        wait_for(lambda: read(live, live.settings.topics.incidents, quiet_ms=300)[-1]["status"]
                 == "resolved", 60, live, "the resolution by command")
        time.sleep(1.0)  # a resolve sent now would be in
        assert [a for a, _ in pages(receiver)] == ["trigger", "resolve", "trigger", "resolve"], (
            "resolved in PagerDuty at the mitigation already")
        [resolved] = [m for m in read(live, live.settings.topics.incidents, quiet_ms=300)
                      if m["event"] == "resolved"]
        assert resolved["mitigated_at"] and "| mitigated |" in str(resolved["postmortem"])
        stats = live.cli("incidents", "stats", "--json")
        overall = orjson.loads(stats.stdout)["overall"]
        assert overall["time_to_mitigate_seconds"] < overall["time_to_resolve_seconds"]
