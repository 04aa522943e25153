"""Retention on the real broker: with `retention: 1h`, a day of incidents leaves only the
retained ones in the API and the listing, before and after a SIGKILL and a restart; the
statistics count every incident."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.domain.timestamps import format_ts
from tests.integration.conftest import Live, kill, read, send_keyed, wait_for

pytestmark = pytest.mark.integration

HOUR = 3600.0
SLO_FILE = """apiVersion: sre-streams/v1
slos:
  - name: api-availability
    service: api
    objective: 99.9%
    sli: {availability: {}}
    group_by: [region]
incidents: {retention: 1h}
"""


def alert(region: str, status: str, at: float, started: float) -> dict[str, object]:
    return {"kind": "alert", "version": 1, "id": f"a-{region}", "status": status,
            "slo": "api-availability", "service": "api", "series": {"region": region},
            "rule": "page-fast", "severity": "page", "long_window": "1h", "short_window": "5m",
            "threshold": 14.4, "burn_rate_long": 20.0, "burn_rate_short": 30.0,
            "error_budget_remaining": 0.9, "at": format_ts(at), "started_at": format_ts(started),
            "labels": {}, "annotations": {"summary": "burning"}}


def api(live: Live, name: str) -> Any:
    with urllib.request.urlopen(f"{live.api[name]}/v1/incidents", timeout=5) as answer:
        return orjson.loads(answer.read())


def shown(live: Live, name: str) -> set[str]:
    answer = api(live, name)
    return {i["id"] for i in answer["open"] + answer["recent"]}


def listed(live: Live) -> set[str]:
    done = live.cli("incidents", "list", "--json")
    assert done.returncode == 0, done.stderr
    return {orjson.loads(line)["id"] for line in done.stdout.splitlines()}


def test_a_day_of_incidents_keeps_the_last_hour_across_a_sigkill_and_statistics_count_all(
    live_factory: Callable[..., Live], tmp_path: Path,
) -> None:
    slos = tmp_path / "slos.yaml"
    slos.write_text(SLO_FILE)
    live = live_factory(slos)
    live.start_worker("w1")
    now = time.time()
    messages = []
    for n in range(12):  # one every two hours over the last day, resolved after 10 minutes
        at = now - 24 * HOUR + n * 2 * HOUR
        messages += [alert(f"r{n}", "firing", at, at), alert(f"r{n}", "resolved", at + 600, at)]
    recent = now - 30 * 60
    messages += [alert("recent", "firing", recent, recent),
                 alert("recent", "resolved", recent + 600, recent),
                 alert("open", "firing", now - 60, now - 60)]
    # Keyed by SLO and series as the engine keys them: each series' alerts stay in order.
    send_keyed(live, live.settings.topics.alerts,
               [(orjson.dumps([m["slo"], m["series"]]), orjson.dumps(m)) for m in messages])

    def events() -> list[dict[str, Any]]:
        return read(live, live.settings.topics.incidents, quiet_ms=300)

    wait_for(lambda: [m["event"] for m in events()].count("retired") == 12, 60, live,
             "twelve incidents past retention")
    everything = events()
    retained = {str(m["id"]) for m in everything
                if m["series"] in ({"region": "recent"}, {"region": "open"})}
    assert len({m["id"] for m in everything}) == 14 and len(retained) == 2
    wait_for(lambda: shown(live, "w1") == retained, 30, live, "the API to show the retained")
    assert listed(live) == retained
    before = api(live, "w1")["stats"]
    assert before["overall"]["incidents"] == 14 and before["overall"]["open"] == 1
    assert before["overall"]["time_to_resolve_seconds"] == pytest.approx(600, abs=1)
    stats = live.cli("incidents", "stats", "--json")
    assert orjson.loads(stats.stdout)["overall"]["incidents"] == 14

    kill(live, 0)
    live.start_worker("w2")
    def restored() -> bool:
        try:
            return bool(api(live, "w2")["stats"]["overall"]["incidents"])
        except OSError:  # not answering yet, or 503 while the incident leader starts
            return False

    wait_for(restored, 60, live, "the restored incident state")
    assert shown(live, "w2") == retained, "exactly the retained set restored"
    assert api(live, "w2")["stats"] == before, "the totals of the retired restored"
    assert listed(live) == retained
