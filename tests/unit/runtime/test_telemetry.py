"""Timings and outcomes on /metrics: notification attempts against a real HTTP server, checkpoint
timings, and the readiness answer before and after a worker has its partitions."""

from __future__ import annotations

import asyncio
import re
import time
from types import SimpleNamespace
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from streams.domain.slo.loader import parse_slo_text
from streams.runtime.api import ApiService
from streams.runtime.incidents.deliveries import DeliveryScheduler
from streams.runtime.incidents.processor import IncidentProcessor
from streams.runtime.settings import Settings
from streams.runtime.telemetry import CHECKPOINT_SECONDS
from tests.unit.runtime.incidents.conftest import FILE, SETTINGS, SLOS, page


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def api(engine: Any, responder: Any) -> ApiService:
    return ApiService(Settings.load({}, environ={}), SLOS, responder, engine)


def scrape(service: ApiService) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async def run() -> str:
        async with TestClient(TestServer(service.web_app())) as client:
            return await (await client.get("/metrics")).text()

    return samples(asyncio.run(run()))


def idle_worker(*, ready: bool, joined: bool) -> tuple[Any, Any]:
    event = asyncio.Event()
    if ready:
        event.set()
    engine = SimpleNamespace(processors={}, ready=event, stopping=False, lag=dict, capacity={})
    responder = SimpleNamespace(leading=False, leader_url=None, policies=None, book=None, toil=None,
                                joined=joined)
    return engine, responder


def test_each_notification_attempt_is_counted_by_outcome_and_timed() -> None:
    statuses = [500, 202]

    async def hook(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({}, status=statuses.pop(0))

    async def run() -> None:
        app = web.Application()
        app.router.add_post("/hook", hook)
        async with TestServer(app) as server:
            notify = parse_slo_text(FILE.replace("http://127.0.0.1:9/hook",
                                                 str(server.make_url("/hook")))).notify
            proc = IncidentProcessor(SLOS, SETTINGS.topics, 300.0)
            proc.commit(proc.apply([(SETTINGS.topics.alerts, 0, 0,
                                     orjson.dumps(page("eu", "firing", time.time() - 60)))],
                                   time.time()))
            scheduler = DeliveryScheduler(notify)
            async with aiohttp.ClientSession() as session:
                first = await scheduler.attempt(session, proc.state.pending, time.time())
                (delivery, attempt), = first
                assert attempt is not None and attempt.outcome == "retry"
                again = {delivery.key: delivery}
                (_, second), = await scheduler.attempt(session, again, time.time())
                assert second is not None and second.outcome == "delivered"

    engine, responder = idle_worker(ready=True, joined=True)
    before = scrape(api(engine, responder))
    asyncio.run(run())
    after = scrape(api(engine, responder))

    def grew(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert grew("sre_deliveries_total", receiver="hook", outcome="retry") == 1
    assert grew("sre_deliveries_total", receiver="hook", outcome="delivered") == 1
    assert grew("sre_delivery_duration_seconds_count", receiver="hook") == 2
    assert 0 < grew("sre_delivery_duration_seconds_sum", receiver="hook") < 10


def test_checkpoint_timings_are_a_histogram_per_state() -> None:
    engine, responder = idle_worker(ready=True, joined=True)
    before = scrape(api(engine, responder))
    with CHECKPOINT_SECONDS.labels("engine").time():
        time.sleep(0.02)
    after = scrape(api(engine, responder))
    key = ("sre_checkpoint_duration_seconds_count", (("state", "engine"),))
    assert after[key] - before.get(key, 0.0) == 1
    slow = ("sre_checkpoint_duration_seconds_bucket", (("le", "0.01"), ("state", "engine")))
    assert after[slow] == before.get(slow, 0.0)  # 20 ms is not under 10 ms


def readiness(engine: Any, responder: Any) -> tuple[int, dict[str, Any]]:
    async def run() -> tuple[int, dict[str, Any]]:
        async with TestClient(TestServer(api(engine, responder).web_app())) as client:
            response = await client.get("/readyz")
            return response.status, await response.json()

    return asyncio.run(run())


def test_readiness_waits_for_the_partitions_and_the_incident_group() -> None:
    status, body = readiness(*idle_worker(ready=False, joined=False))
    assert status == 503 and body["ready"] is False
    assert len(body["waiting_for"]) == 2
    status, body = readiness(*idle_worker(ready=True, joined=False))
    assert status == 503 and body["waiting_for"] == [
        "the incident service's group joined (leader elected)"]
    status, body = readiness(*idle_worker(ready=True, joined=True))
    assert (status, body["ready"], body["waiting_for"]) == (200, True, [])


def test_a_stopping_worker_is_not_ready() -> None:
    engine, responder = idle_worker(ready=True, joined=True)
    engine.stopping = True
    status, body = readiness(engine, responder)
    assert status == 503 and body["ready"] is False


def test_the_leader_exposes_each_services_budget_policy_state() -> None:
    engine, responder = idle_worker(ready=True, joined=True)
    responder.leading = True
    responder.policies = SimpleNamespace(budgets={}, services=["checkout", "search"],
                                         states={"checkout": "frozen"})
    metrics = scrape(api(engine, responder))
    states = {(dict(labels)["service"], dict(labels)["state"]): value
              for (name, labels), value in metrics.items() if name == "sre_budget_policy_state"}
    assert states == {("checkout", "ok"): 0, ("checkout", "warn"): 0, ("checkout", "frozen"): 1,
                      ("search", "ok"): 1, ("search", "warn"): 0, ("search", "frozen"): 0}


def test_every_configured_receiver_starts_at_zero_for_each_outcome() -> None:
    DeliveryScheduler(parse_slo_text(re.sub(r"\bhook\b", "fresh-hook", FILE)).notify)
    engine, responder = idle_worker(ready=True, joined=True)
    metrics = scrape(api(engine, responder))
    for outcome in ("delivered", "retry", "dead"):
        assert metrics[("sre_deliveries_total",
                        (("outcome", outcome), ("receiver", "fresh-hook")))] == 0
    assert metrics[("sre_delivery_duration_seconds_count", (("receiver", "fresh-hook"),))] == 0
