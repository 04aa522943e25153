"""Budget policy, deploy gate, HTTP API and /metrics on a real broker, with two workers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from streams.domain.timestamps import format_ts
from tests.conftest import assert_valid
from tests.integration.conftest import T0, Live, produce, read, scenario, send, wait_for

pytestmark = pytest.mark.integration

TOKEN = "s3cret-token-for-tests"
# 90% over 30 days, on two hours of traffic: the outage (from 00:40) burns the budget within
# minutes; snapshots every minute go ok (to 00:42), warn (00:43, 00:44), frozen (from 00:45).
SLO_FILE = """apiVersion: sre-streams/v1
defaults: {window: 30d, min_events: 1000, policy: {warn_below: 0.5, freeze_below: 0.0}}
slos:
  - name: checkout-availability
    service: checkout
    objective: 90%
    sli: {availability: {bad_status: ["5xx", 429]}}
  - name: search-availability
    service: search
    objective: 99%
    sli: {availability: {}}
    group_by: [region]
"""


def call(method: str, url: str, body: object = None, token: str | None = None,
         raw: bytes | None = None) -> tuple[int, Any]:
    async def run() -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        data = raw if raw is not None else (None if body is None else orjson.dumps(body))
        async with aiohttp.ClientSession() as session, session.request(
                method, url, data=data, headers=headers) as response:
            text = await response.read()
            is_json = response.content_type == "application/json"
            return response.status, orjson.loads(text) if is_json else text.decode()

    return asyncio.run(run())


def retried(method: str, url: str, body: object = None, token: str | None = None,
            within: float = 60.0) -> tuple[int, Any]:
    """A request as a client should make it: a 503 ("no leader yet ... retry shortly") is
    retried, since the lead can move to the other worker whenever one misses heartbeats on a
    loaded machine (nothing was stored: the leader answers 503 before it stores anything)."""
    deadline = time.monotonic() + within
    while True:
        status, answer = call(method, url, body, token=token)
        if status != 503 or time.monotonic() > deadline:
            return status, answer
        time.sleep(0.5)


def get(url: str) -> tuple[int, Any]:
    return retried("GET", url)


def gates(live: Live, service: str = "checkout", **query: str) -> list[dict[str, Any]]:
    """The gate's answer from every worker."""
    suffix = "".join(f"?{k}={v}" for k, v in query.items())
    answers = []
    for url in live.api.values():
        status, body = get(f"{url}/v1/gates/{service}{suffix}")
        assert status == 200, body
        answers.append(body)
    return answers


def wait_for_snapshot(live: Live, at: str) -> list[dict[str, Any]]:
    """Both workers' gate answers, once both answer from the checkout snapshot at `at`."""
    answers: list[dict[str, Any]] = []

    def arrived() -> bool:
        try:
            answers[:] = gates(live)
        except AssertionError:
            return False  # a worker not ready yet (503)
        return all(g["slos"] and g["slos"][0]["at"] == at for g in answers)

    wait_for(arrived, 120, live, f"the budget snapshot at {at}")
    return answers


def test_the_gate_follows_the_budget_from_either_worker_with_overrides_and_violations(
    live_factory: Callable[..., Live], tmp_path: Path,
) -> None:
    slos = tmp_path / "slos.yaml"
    slos.write_text(SLO_FILE)
    live = live_factory(slos, SRE_IDLE_TIMEOUT="10m", SRE_API_TOKEN=TOKEN)
    live.start_worker("w1", wait=False)
    live.start_worker("w2", wait=False)
    live.wait_ready("w1", "w2")
    wait_for_leader(live)  # the gates below are asked of both workers, the leader answers
    outage = T0 + 40 * 60
    first, rest = scenario(tmp_path, cut=outage + 150)
    second, third = split(rest, outage + 270)

    produce(live, first)
    ok = wait_for_snapshot(live, "2026-11-23T00:42:00.000Z")
    assert [(g["decision"], g["allowed"], g["state"]) for g in ok] == [("allow", True, "ok")] * 2
    produce(live, second)
    warned = wait_for_snapshot(live, "2026-11-23T00:44:00.000Z")
    assert [(g["decision"], g["allowed"]) for g in warned] == [("warn", True)] * 2
    assert "checkout-availability" in warned[0]["reason"]
    produce(live, third)
    frozen = wait_for_snapshot(live, "2026-11-23T01:59:00.000Z")
    assert [(g["decision"], g["allowed"], g["override"]) for g in frozen] == [
        ("deny", False, None)] * 2
    assert frozen[0]["slos"][0]["error_budget_remaining"] < 0
    assert frozen[0]["slos"][0]["burn_rate_1h"] is not None

    # A deploy during the freeze is a violation; one under an override is not, until it ends.
    send(live, live.settings.topics.deploys,
         {"ts": format_ts(time.time()), "service": "checkout", "version": "v1"})
    expires = time.time() + 20
    status, created = retried("POST", f"{live.api['w2']}/v1/gates/checkout/overrides", {
        "approver": "vp-eng", "reason": "fix for the outage", "expires_at": format_ts(expires)},
        token=TOKEN)
    assert status == 201, created
    assert all(g["allowed"] and g["override"]["approver"] == "vp-eng" for g in gates(live))
    send(live, live.settings.topics.deploys,
         {"ts": format_ts(time.time()), "service": "checkout", "version": "v2"})
    wait_for(lambda: time.time() > expires and not any(g["allowed"] for g in gates(live)), 60, live,
             "the override to expire")
    send(live, live.settings.topics.deploys,
         {"ts": format_ts(time.time()), "service": "checkout", "version": "v3"})

    def policy_events() -> list[dict[str, Any]]:
        return read(live, live.settings.topics.policy, quiet_ms=200)

    wait_for(lambda: len([e for e in policy_events() if e["event"] == "violation"]) >= 2, 60, live,
             "the violations")
    events = policy_events()
    for event in events:
        assert_valid("sre.policy", event)
    states = [(e["previous"], e["state"]) for e in events
              if e["event"] == "state" and e["service"] == "checkout"]
    assert states == [("ok", "warn"), ("warn", "frozen")], events
    assert [e["deploy"]["version"] for e in events if e["event"] == "violation"] == ["v1", "v3"]
    [override] = [e for e in events if e["event"] == "override"]
    assert override["override"]["reason"] == "fix for the outage"

    # /metrics on the leader: the SLO gauges equal the latest budget snapshots, once the leader
    # has absorbed them (it reads the budget topic as the test does, so it may lag behind). The
    # leader is asked for each time: on a loaded machine a missed heartbeat can move the lead
    # to the other worker, which restores the budgets and serves the gauges from then on.
    deadline = time.monotonic() + 60
    while (mismatches := gauge_mismatches(latest_snapshots(live),
                                          samples(live.api[wait_for_leader(live)]))) \
            and time.monotonic() < deadline:
        time.sleep(0.5)
    assert mismatches == [], mismatches
    assert samples(live.api[wait_for_leader(live)])[("sre_slo_objective", (
        ("service", "checkout"), ("slo", "checkout-availability")))] == 0.9
    produced = sum(1 for path in (first, second, third) for _ in path.read_bytes().splitlines())

    def consumed() -> float:
        return sum(value for url in live.api.values() for (name, _), value in samples(url).items()
                   if name == "sre_events_consumed_total")

    wait_for(lambda: consumed() >= produced, 60, live, f"the workers to consume {produced} events")
    assert consumed() == produced

    # The rest of the API, from the worker that is not the leader (forwarded).
    other = live.api["w1" if wait_for_leader(live) == "w2" else "w2"]
    status, body = get(f"{other}/v1/slos")
    assert status == 200 and [s["name"] for s in body["slos"]] == [
        "checkout-availability", "search-availability"]

    def search_series() -> set[tuple[tuple[str, str], ...]]:
        status, body = get(f"{other}/v1/slos/search-availability")
        assert status == 200, body
        return {tuple(s["series"].items()) for s in body["series"]}

    wait_for(lambda: search_series() >= {(("region", "eu"),), (("region", "us"),)}, 60, live,
             "the search series' budgets")

    def incidents() -> int:
        status, body = get(f"{other}/v1/incidents")
        assert status == 200, body
        return int(body["stats"]["overall"]["incidents"])

    wait_for(lambda: incidents() >= 1, 60, live, "the outage's incident")
    status, body = get(f"{other}/v1/alerts")
    assert status == 200 and isinstance(body["alerts"], list)


def test_api_errors_are_json_and_nothing_changes_without_a_valid_token(
    live_factory: Callable[..., Live], tmp_path: Path,
) -> None:
    slos = tmp_path / "slos.yaml"
    slos.write_text(SLO_FILE)
    live = live_factory(slos, SRE_API_TOKEN=TOKEN)
    live.start_worker("w1")
    wait_for_leader(live)
    url = live.api["w1"]
    overrides = f"{url}/v1/gates/checkout/overrides"
    good = {"approver": "a", "reason": "r", "expires_at": format_ts(time.time() + 600)}
    cases = [
        (call("GET", f"{url}/v1/gates/nope"), 404, None),
        (call("GET", f"{url}/v1/slos/nope"), 404, None),
        (call("GET", f"{url}/v1/nothing"), 404, None),
        (call("POST", f"{url}/v1/gates/checkout"), 405, None),
        (call("POST", overrides, good), 401, None),
        (call("POST", overrides, good, token="wrong"), 401, None),
        (call("POST", overrides, raw=b"{not json", token=TOKEN), 400, "body"),
        (call("POST", overrides, {**good, "approver": ""}, token=TOKEN), 400, "approver"),
        (call("POST", overrides, {**good, "expires_at": "2001-01-01T00:00:00Z"}, token=TOKEN),
         400, "expires_at"),
        (call("POST", overrides, raw=b"[1, 2]", token=TOKEN), 400, "body"),
        (call("POST", f"{url}/v1/gates/nope/overrides", good, token=TOKEN), 404, None),
    ]
    for (status, body), expected, field in cases:
        assert status == expected, body
        assert isinstance(body, dict) and body["error"], body
        assert body.get("field") == field, body
    assert gates(live)[0]["override"] is None, "a refused request changed nothing"
    assert read(live, live.settings.topics.policy, quiet_ms=200) == []
    status, body = call("POST", overrides, good, token=TOKEN)
    assert status == 201 and gates(live)[0]["override"]["approver"] == "a"


def wait_for_leader(live: Live) -> str:
    """The worker that holds budgets and incidents."""
    found: list[str] = []

    def known() -> bool:
        found[:] = [name for name in live.api if (live.health(name) or {}).get("leader")]
        return bool(found)

    wait_for(known, 90, live, "a leader")
    return found[0]


def latest_snapshots(live: Live) -> list[dict[str, Any]]:
    """The latest budget snapshot of every SLO series, from the budget topic."""
    latest: dict[bytes, dict[str, Any]] = {}
    for snapshot in read(live, live.settings.topics.budgets):
        latest[orjson.dumps([snapshot["slo"], snapshot["series"]])] = snapshot
    return list(latest.values())


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(url: str) -> Samples:
    """A worker's /metrics, by metric name and sorted labels."""
    status, text = call("GET", f"{url}/metrics")
    assert status == 200, text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def gauge_mismatches(snapshots: list[dict[str, Any]], found: Samples) -> list[str]:
    """Each SLO gauge that differs from its snapshot (error budget, burn rates, SLI), or is missing."""
    expected: Samples = {}
    for snapshot in snapshots:
        labels = {"slo": snapshot["slo"], "service": snapshot["service"], **snapshot["series"]}
        expected[("sre_slo_error_budget_remaining", tuple(sorted(labels.items())))] = \
            snapshot["error_budget_remaining"]
        for window, rate in snapshot["burn_rates"].items():
            expected[("sre_slo_burn_rate", tuple(sorted({**labels, "window": window}.items())))] = rate
        expected[("sre_slo_sli", tuple(sorted({**labels, "window": "30d"}.items())))] = snapshot["sli"]
    return [f"{name}{dict(labels)}: {found.get((name, labels))} != {value}"
            for (name, labels), value in expected.items()
            if found.get((name, labels)) != pytest.approx(value, rel=1e-12)]


def split(events: Path, cut: float) -> tuple[Path, Path]:
    lines = events.read_bytes().splitlines(keepends=True)
    before, after = events.with_suffix(".a.jsonl"), events.with_suffix(".b.jsonl")
    before.write_bytes(b"".join(line for line in lines if orjson.loads(line)["ts"] < cut))
    after.write_bytes(b"".join(line for line in lines if orjson.loads(line)["ts"] >= cut))
    return before, after

