"""A calendar SLO's budget in the policy, the gate, /v1/slos and /metrics: the period's own,
with its start and end, reset at local midnight."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from streams.domain.engine.evaluation import Engine, EngineSettings
from streams.domain.policy import PolicyBook
from streams.domain.slo.loader import parse_slo_text
from streams.domain.timestamps import parse_ts
from streams.runtime.api import ApiService
from streams.runtime.settings import Settings

FILE = parse_slo_text("""apiVersion: sre-streams/v1
slos:
  - name: api-availability
    service: api
    objective: 0.98
    sli: {availability: {}}
    window: {calendar: month, timezone: Europe/Berlin}
""")
MIDNIGHT = parse_ts("2026-11-30T23:00:00Z")  # 1 December in Berlin
OLD = ("2026-10-31T23:00:00.000Z", "2026-11-30T23:00:00.000Z")
NEW = ("2026-11-30T23:00:00.000Z", "2026-12-31T23:00:00.000Z")


def book_after(last: float) -> tuple[PolicyBook, list[Any]]:
    """Ten minutes before midnight with 5% bad (budget overspent), then clean traffic."""
    engine = Engine(FILE, EngineSettings(eval_interval=10, lateness=0, budget_interval=60))
    ts = MIDNIGHT - 600
    while ts <= last:
        engine.ingest({"ts": ts, "slo": "api-availability", "total": 100,
                       "good": 95 if ts <= MIDNIGHT else 100})
        ts += 10
    engine.finish()
    book = PolicyBook(FILE)
    events = [event for snapshot in engine.budgets for event in book.on_budget(snapshot)]
    return book, events


def test_the_policy_freezes_in_the_old_month_and_thaws_at_midnight() -> None:
    _, events = book_after(MIDNIGHT + 120)
    frozen, thawed = events
    assert (frozen.state, frozen.period_start, frozen.period_end) == ("frozen", *OLD)
    assert parse_ts(frozen.at) < MIDNIGHT
    assert (thawed.state, thawed.at) == ("ok", "2026-11-30T23:01:00.000Z")


def test_gate_slos_and_metrics_carry_the_period() -> None:
    book, _ = book_after(MIDNIGHT + 120)

    async def run() -> list[Any]:
        responder = SimpleNamespace(leading=True, leader_url=None, policies=book, book=None,
                                    toil=None, capacity=None)
        engine = SimpleNamespace(processors={}, lag=dict, capacity={})
        api = ApiService(Settings.load({}, environ={}), FILE, responder, engine)  # type: ignore[arg-type]
        async with TestClient(TestServer(api.web_app())) as client:
            found = []
            for path in ("/v1/gates/api", "/v1/slos", "/v1/slos/api-availability", "/metrics"):
                response = await client.get(path)
                assert response.status == 200, await response.text()
                found.append(await (response.text() if path == "/metrics" else response.json()))
            return found

    gate, slos, detail, metrics = asyncio.run(run())
    assert gate["allowed"] is True and gate["state"] == "ok"
    [row] = gate["slos"]
    assert (row["period_start"], row["period_end"]) == NEW
    [listed] = slos["slos"]
    assert (listed["window"], listed["period_start"], listed["period_end"]) == (
        "month Europe/Berlin", *NEW)
    [series] = detail["series"]
    assert (series["period_start"], series["period_end"], series["total"]) == (*NEW, 1200)
    samples = {sample.name: sample for family in text_string_to_metric_families(metrics)
               for sample in family.samples}
    start = samples["sre_slo_period_start_timestamp_seconds"]
    end = samples["sre_slo_period_end_timestamp_seconds"]
    assert start.labels == {"slo": "api-availability", "service": "api"}
    assert (start.value, end.value) == (parse_ts(NEW[0]), parse_ts(NEW[1]))
    assert samples["sre_slo_error_budget_remaining"].value == 1.0  # the new month's budget
