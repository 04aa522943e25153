"""The worker's HTTP API: deploy gates, overrides, SLOs, alerts, incidents and `/metrics`.

Every worker serves it (`SRE_API_HOST`:`SRE_API_PORT`, default 0.0.0.0:6066). Budgets,
policy states, alerts and incidents live on one worker, the leader of the incident service
(`streams.runtime.incidents.service`); any other worker forwards a question to it, so every worker
answers for every service and series. `/metrics` is per worker: its own processing counters,
and on the leader the SLO gauges too (so that Prometheus gets each series once). `/healthz`
answers while the process serves (liveness); `/readyz` answers 200 once the worker has taken its
input partitions and restored their state, 503 before (readiness).

Mutating endpoints need `Authorization: Bearer <SRE_API_TOKEN>` (compared in constant time);
with no token configured they are disabled (403), never open. Errors are JSON:
`{"error": "...", "field"?: "..."}`.
"""

from __future__ import annotations

import hmac
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

import aiohttp
import mode
import msgspec
import orjson
from aiohttp import web
from msgspec import UnsetType
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.samples import Sample

from streams.domain.engine.reasons import reason_class
from streams.domain.policy import STATES, PolicyError
from streams.domain.slo.model import SloFile
from streams.domain.timestamps import parse_ts
from streams.runtime import telemetry
from streams.runtime.capacity_view import capacity_document, capacity_metrics
from streams.runtime.engine.service import EngineService
from streams.runtime.http_edges import EdgeRunner
from streams.runtime.incidents.service import IncidentService
from streams.runtime.settings import Settings
from streams.web.routes import Pages, add_pages
from streams.web.sections import capacity_section, toil_section
from streams.wire.budgets import BudgetSnapshot

log = logging.getLogger(__name__)

FORWARDED = "X-Sre-Forwarded"
MAX_BODY = 64 * 1024
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field


def _json(data: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error as JSON; nothing a request sends can take the worker down."""
    try:
        return await handler(request)
    except ApiError as exc:
        body: dict[str, object] = {"error": str(exc)}
        if exc.field:
            body["field"] = exc.field
        response = _json(body, exc.status)
        if exc.status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="sre-streams"'
        if exc.status == 503:
            response.headers["Retry-After"] = "2"
        return response
    except web.HTTPException as exc:  # aiohttp's own: 404 no route, 405, 413 ...
        return _json({"error": exc.reason}, exc.status)
    except ConnectionError:  # the client went away mid-request: nothing to answer, no error
        log.debug("API client of %s %s disconnected", request.method, request.path)
        return _json({"error": "client disconnected"}, 400)
    except Exception:  # a bug: logged, answered, the worker goes on
        log.exception("API request %s %s failed", request.method, request.path)
        return _json({"error": "internal error (logged by the worker)"}, 500)


class ApiService(mode.Service):
    """The HTTP server of one worker."""

    def __init__(self, settings: Settings, slo_file: SloFile, responder: IncidentService,
                 engine: EngineService, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.slo_file = slo_file
        self.slos = {slo.name: slo for slo in slo_file.slos}
        self.responder = responder
        self.engine = engine
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Collector(self))
        self.runner: web.AppRunner | None = None
        self.session: aiohttp.ClientSession | None = None

    def web_app(self) -> web.Application:
        app = web.Application(middlewares=[_errors], client_max_size=MAX_BODY)
        app.router.add_get("/healthz", self.health)
        app.router.add_get("/readyz", self.readiness)
        app.router.add_get("/metrics", self.metrics)
        for path, handler in (("/v1/gates/{service}", self.gate),
                              ("/v1/slos", self.slo_list), ("/v1/slos/{name}", self.slo_detail),
                              ("/v1/alerts", self.alerts), ("/v1/incidents", self.incidents),
                              ("/v1/toil", self.toil)):
            app.router.add_get(path, self._on_leader(handler))
        app.router.add_post("/v1/gates/{service}/overrides", self.override)
        add_pages(app, Pages(self.slo_file, self.responder, [capacity_section(self.responder),
                                                           toil_section(self.responder)]),
                  self._on_leader)  # streams.web
        app.router.add_get("/v1/capacity", self._on_leader(self.capacity))
        return app

    async def on_start(self) -> None:
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        self.runner = EdgeRunner(self.web_app(), access_log=None)
        await self.runner.setup()
        try:
            await web.TCPSite(self.runner, self.settings.api_host, self.settings.api_port).start()
        except OSError as exc:
            raise RuntimeError(f"the API cannot listen on {self.settings.api_host}:"
                               f"{self.settings.api_port} ({exc.strerror or exc}): choose another "
                               "port with SRE_API_PORT") from None
        log.info("API listening on %s:%d (advertised as %s)", self.settings.api_host,
                 self.settings.api_port, self.settings.advertised_api)

    async def on_stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
        if self.session is not None:
            await self.session.close()

    # -- routing to the leader ---------------------------------------------------------------

    def _on_leader(self, handler: Handler) -> Handler:
        async def routed(request: web.Request) -> web.StreamResponse:
            if self.responder.leading:
                return await handler(request)
            return await self._forward(request)

        return routed

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        leader = self.responder.leader_url
        if (not leader or leader == self.settings.advertised_api
                or request.headers.get(FORWARDED)):
            raise ApiError(503, "no leader yet: the worker holding budgets and incidents is "
                                "starting or moving; retry shortly")
        assert self.session is not None
        headers = {FORWARDED: "1", "Content-Type": request.headers.get("Content-Type",
                                                                        "application/json")}
        if "Authorization" in request.headers:
            headers["Authorization"] = request.headers["Authorization"]
        try:
            async with self.session.request(request.method, leader + request.path_qs,
                                            data=await request.read(), headers=headers) as answer:
                body = await answer.read()
                return web.Response(body=body, status=answer.status,
                                    content_type=answer.content_type)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ApiError(503, f"the leader at {leader} did not answer ({type(exc).__name__}); "
                                "retry shortly") from None

    # -- handlers ----------------------------------------------------------------------------

    async def health(self, request: web.Request) -> web.Response:
        return _json({"ok": True, "leader": self.responder.leading,
                      "leader_url": self.responder.leader_url,
                      "partitions": sorted(self.engine.processors)})

    def waiting_for(self) -> list[str]:
        """What this worker still waits for before it counts: empty once it is ready.

        Readiness stays once reached: under Kafka's eager protocol a rebalance revokes every
        partition of every worker at once, and a readiness that followed it would empty a
        Kubernetes Service on each rebalance.
        """
        waiting = []
        if not self.engine.ready.is_set():
            waiting.append("input partitions assigned and their state restored")
        if not self.responder.joined:
            waiting.append("the incident service's group joined (leader elected)")
        if self.engine.stopping:
            waiting.append("a restart: the worker is stopping")
        return waiting

    async def readiness(self, request: web.Request) -> web.Response:
        waiting = self.waiting_for()
        return _json({"ready": not waiting, "waiting_for": waiting,
                      "partitions": sorted(self.engine.processors)}, 503 if waiting else 200)

    async def gate(self, request: web.Request) -> web.Response:
        policies = self._policies()
        service = request.match_info["service"]
        try:
            return _json(msgspec.to_builtins(
                policies.gate(service, time.time(), request.query.get("change_class"))))
        except KeyError:
            raise self._unknown_service(service) from None

    async def override(self, request: web.Request) -> web.Response:
        self._authorize(request)
        if not self.responder.leading:
            return await self._forward(request)  # type: ignore[return-value]
        service = request.match_info["service"]
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError as exc:
            raise ApiError(400, f"the body is not JSON: {exc}", "body") from None
        try:
            event = await self.responder.add_override(service, body)
        except KeyError:
            raise self._unknown_service(service) from None
        except PolicyError as exc:
            raise ApiError(400, str(exc), exc.field) from None
        except LookupError:
            raise ApiError(503, "leadership moved while storing the override; retry") from None
        return _json(msgspec.to_builtins(event), 201)

    async def slo_list(self, request: web.Request) -> web.Response:
        policies = self._policies()
        rows = []
        for slo in self.slo_file.slos:
            series = [b for b in policies.budgets.values() if b.slo == slo.name]
            rows.append({"name": slo.name, "service": slo.service, "objective": slo.objective,
                         "window": slo.window_label, "series": len(series),
                         "error_budget_remaining": min(
                             (b.error_budget_remaining for b in series), default=None),
                         "firing": sorted({r for b in series for r in b.firing}),
                         **_period(max(series, key=lambda b: b.at, default=None))})
        return _json({"slos": rows})

    async def slo_detail(self, request: web.Request) -> web.Response:
        policies = self._policies()
        name = request.match_info["name"]
        slo = self.slos.get(name)
        if slo is None:
            raise ApiError(404, f"no SLO {name!r} (known: {', '.join(sorted(self.slos))})")
        series = [{"series": b.series, "at": b.at, "sli": b.sli, "good": b.good, "total": b.total,
                   "error_budget_remaining": b.error_budget_remaining,
                   "burn_rates": b.burn_rates, "firing": b.firing, **_period(b)}
                  for b in sorted(policies.budgets.values(), key=lambda b: orjson.dumps(
                      b.series, option=orjson.OPT_SORT_KEYS)) if b.slo == name]
        return _json({"name": slo.name, "service": slo.service, "objective": slo.objective,
                      "window": slo.window_label, "labels": dict(slo.labels),
                      "policy": {"warn_below": slo.budget_policy.warn_below,
                                 "freeze_below": slo.budget_policy.freeze_below,
                                 "exceptions": list(slo.budget_policy.exceptions)},
                      "series": series})

    async def capacity(self, request: web.Request) -> web.Response:
        """The latest capacity event of each planned service and resource, most urgent first:
        the leader's, read from `sre.capacity` (every worker publishes its own services')."""
        events = self.responder.capacity
        if events is None:
            raise ApiError(503, "leadership moved; retry")
        return _json(capacity_document(events))

    async def alerts(self, request: web.Request) -> web.Response:
        book = self.responder.book
        if book is None:
            raise ApiError(503, "leadership moved; retry")
        return _json({"alerts": msgspec.to_builtins(book.firing_alerts())})

    async def incidents(self, request: web.Request) -> web.Response:
        book = self.responder.book
        if book is None:
            raise ApiError(503, "leadership moved; retry")
        everything = sorted(book.incidents.values(), key=lambda i: i.opened_at, reverse=True)
        return _json({"open": [book.describe(i) for i in everything if i.resolved_at is None],
                      "recent": [book.describe(i) for i in everything
                                 if i.resolved_at is not None][:50],
                      "stats": msgspec.to_builtins(book.stats())})

    async def toil(self, request: web.Request) -> web.Response:
        """The toil report of the last 28 days (schemas/toil-report.schema.json)."""
        toil = self.responder.toil
        if toil is None:
            raise ApiError(503, "leadership moved; retry")
        report = toil.report()
        if report is None:
            raise ApiError(404, "no toil yet: nothing on sre.toil, and no incident work "
                                "(a toil section in the SLO file turns on the on-call ledger)")
        return _json(msgspec.to_builtins(report))

    async def metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(self.registry),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})

    # -- helpers -----------------------------------------------------------------------------

    def _policies(self) -> Any:
        policies = self.responder.policies
        if policies is None:
            raise ApiError(503, "leadership moved; retry")
        return policies

    def _unknown_service(self, service: str) -> ApiError:
        known = sorted({slo.service for slo in self.slo_file.slos})
        return ApiError(404, f"no service {service!r} in the SLO file (known: {', '.join(known)})")

    def _authorize(self, request: web.Request) -> None:
        token = self.settings.api_token
        if not token:
            raise ApiError(403, "mutating endpoints are disabled: set SRE_API_TOKEN on the workers "
                                "to enable them")
        given = request.headers.get("Authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() != "bearer" or not value:
            raise ApiError(401, "missing bearer token (Authorization: Bearer <token>)")
        if not hmac.compare_digest(value.strip().encode(), token.get_secret_value().encode()):
            raise ApiError(401, "invalid token")


_RESERVED = {"slo", "service", "window", "rule", "severity", "reason", "partition"}


def _series_labels(series: Mapping[str, str]) -> dict[str, str]:
    """A series' group_by values as labels; names the metrics use themselves get `series_`."""
    return {(f"series_{k}" if k in _RESERVED else re.sub(r"[^a-zA-Z0-9_]", "_", k)): str(v)
            for k, v in series.items()}


class _Collector:
    """Metrics computed at scrape time from the worker's state."""

    def __init__(self, api: ApiService) -> None:
        self.api = api

    def collect(self) -> Iterator[Metric]:
        yield from self._processing()
        yield from telemetry.collect()
        yield from capacity_metrics(list(self.api.engine.capacity.values()))
        policies = self.api.responder.policies
        if policies is not None:
            yield from self._slos(policies.budgets.values())
            yield self._policy_states(policies.services, policies.states)
        toil = self.api.responder.toil
        report = toil.report() if toil is not None and toil.config.teams else None
        if report is not None:
            share = GaugeMetricFamily("sre_toil_share", "Share of each team's working time spent "
                                      "on toil over the last 28 days (toil section's teams).",
                                      labels=["team"])
            for team in report.teams:
                if team.toil_share is not None:
                    share.add_metric([team.team], team.toil_share)
            yield share

    def _processing(self) -> Iterator[Metric]:
        engine = self.api.engine
        processors = list(engine.processors.values())
        consumed = CounterMetricFamily("sre_events_consumed", "Events counted by this worker's "
                                       "partitions since it started them.")
        consumed.add_metric([], sum(p.engine.stats.events for p in processors))
        late = CounterMetricFamily("sre_late_events", "Events that arrived after their "
                                   "evaluation instant had passed (counted, reported late).")
        late.add_metric([], sum(p.engine.stats.late for p in processors))
        dead = CounterMetricFamily("sre_dead_letters", "Input messages and events dead-lettered, "
                                   "by reason.", labels=["reason"])
        reasons: dict[str, int] = {}
        for proc in processors:
            for reason, count in proc.engine.stats.dead_letters.items():
                name = reason_class(reason)
                reasons[name] = reasons.get(name, 0) + count
        for name, count in sorted(reasons.items()):
            dead.add_metric([name], count)
        lag = GaugeMetricFamily("sre_consumer_lag", "Input messages not yet counted, per "
                                "partition this worker owns.", labels=["partition"])
        for partition, lagging in sorted(engine.lag().items()):
            lag.add_metric([str(partition)], lagging)
        leader = GaugeMetricFamily("sre_responder_leader", "1 on the worker that holds budgets, "
                                   "incidents and policy (and serves the SLO metrics).")
        leader.add_metric([], 1.0 if self.api.responder.leading else 0.0)
        yield from (consumed, late, dead, lag, leader)

    @staticmethod
    def _policy_states(services: list[str], states: Mapping[str, str]) -> Metric:
        family = GaugeMetricFamily("sre_budget_policy_state", "1 for the budget-policy state each "
                                   "service is in (ok, warn, frozen: the deploy gate allows, "
                                   "warns, denies), 0 for the others.", labels=["service", "state"])
        for service in services:
            current = states.get(service, "ok")
            for state in STATES:
                family.add_metric([service, state], 1.0 if state == current else 0.0)
        return family

    def _slos(self, budgets: Any) -> Iterator[Metric]:
        slos = self.api.slos
        families = {
            "sli": GaugeMetricFamily("sre_slo_sli", "SLI over each window (good/total; 1 with no "
                                     "events), as of the latest budget snapshot."),
            "burn": GaugeMetricFamily("sre_slo_burn_rate", "Burn rate over each window: "
                                      "(1 - SLI) / (1 - objective)."),
            "budget": GaugeMetricFamily("sre_slo_error_budget_remaining", "1 - burn rate over "
                                        "the period; negative once overspent."),
            "objective": GaugeMetricFamily("sre_slo_objective", "The SLO's objective."),
            "firing": GaugeMetricFamily("sre_alert_firing", "1 while the rule fires for the series."),
            "at": GaugeMetricFamily("sre_slo_snapshot_timestamp_seconds", "Event time of the "
                                    "latest budget snapshot of the series."),
            "start": GaugeMetricFamily("sre_slo_period_start_timestamp_seconds", "Calendar "
                                       "periods: when the series' budget period began."),
            "end": GaugeMetricFamily("sre_slo_period_end_timestamp_seconds", "Calendar periods: "
                                     "when the series' budget period ends (the budget resets)."),
        }
        for slo in slos.values():
            families["objective"].samples.append(Sample(
                "sre_slo_objective", {"slo": slo.name, "service": slo.service}, slo.objective))
        for snapshot in budgets:
            if snapshot.slo not in slos:
                continue
            slo = slos[snapshot.slo]
            base = {"slo": slo.name, "service": slo.service, **_series_labels(snapshot.series)}
            allowed = 1.0 - slo.objective
            for window, rate in snapshot.burn_rates.items():
                labels = {**base, "window": window}
                families["burn"].samples.append(Sample("sre_slo_burn_rate", labels, rate))
                sli = snapshot.sli if window == slo.window_label else 1.0 - rate * allowed
                families["sli"].samples.append(Sample("sre_slo_sli", labels, sli))
            families["budget"].samples.append(Sample(
                "sre_slo_error_budget_remaining", base, snapshot.error_budget_remaining))
            families["at"].samples.append(Sample(
                "sre_slo_snapshot_timestamp_seconds", base, parse_ts(snapshot.at)))
            for key, bound in _period(snapshot).items():
                name = f"sre_slo_{key}_timestamp_seconds"
                families["start" if key == "period_start" else "end"].samples.append(
                    Sample(name, base, parse_ts(bound)))
            firing = set(snapshot.firing)
            for rule in slo.policy.rules:
                families["firing"].samples.append(Sample("sre_alert_firing", {
                    **base, "rule": rule.name, "severity": rule.severity.value},
                    1.0 if rule.name in firing else 0.0))
        yield from families.values()


def _period(snapshot: BudgetSnapshot | None) -> dict[str, str]:
    """`period_start` and `period_end` of a calendar period's snapshot (else nothing)."""
    if snapshot is None or isinstance(snapshot.period_start, UnsetType) \
            or isinstance(snapshot.period_end, UnsetType):
        return {}
    return {"period_start": snapshot.period_start, "period_end": snapshot.period_end}
