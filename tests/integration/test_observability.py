"""The dashboard and the worker rules against a real Prometheus (the Debian package) scraping a
live worker on the bundled broker through an outage; the readiness endpoint on the way up."""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from streams.runtime.kafka.local_broker import free_port
from streams.synthetic.traffic import iter_jsonl, preset
from tests.conftest import system_binary
from tests.integration.conftest import (
    REPLAY_IDLE,
    T0,
    HttpReceiver,
    Live,
    produce,
    send_requests,
    wait_for,
)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "sre-streams.json"
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
OUTAGE = T0 + 40 * 60  # the preset's outage: 15 minutes from a third of the two hours
RECOVERY = OUTAGE + 15 * 60
LAST_SNAPSHOT = T0 + 119 * 60
SCRAPE = 1  # seconds between scrapes, and between rule evaluations
# Grafana's $__rate_interval: max(4 scrape intervals, the step plus one scrape interval).
RATE_INTERVAL = f"{4 * SCRAPE}s"

SLO_FILE = """apiVersion: sre-streams/v1
defaults: {{window: 30d, min_events: 200, policy: {{warn_below: 0.5, freeze_below: 0.0}}}}
slos:
  - name: checkout-availability
    service: checkout
    objective: 99%
    sli: {{availability: {{bad_status: ["5xx", 429]}}}}
  - name: search-availability
    service: search
    objective: 99%
    sli: {{availability: {{}}}}
    group_by: [region]
notify:
  receivers:
    - name: hook
      webhook: {{url: "{url}", format: raw}}
  routes:
    - {{receiver: hook}}
"""


class Prometheus:
    """A Prometheus server scraping one worker as the job `sre-streams`, with the worker rules."""

    def __init__(self, workdir: Path, target: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = workdir / "prometheus.yml"
        config.write_text(yaml.safe_dump({
            "global": {"scrape_interval": f"{SCRAPE}s", "evaluation_interval": f"{SCRAPE}s",
                       "scrape_timeout": f"{SCRAPE}s"},
            "rule_files": [str(RULES)],
            "scrape_configs": [{"job_name": "sre-streams",
                                "static_configs": [{"targets": [target]}]}]}))
        self.log = workdir / "prometheus.log"
        binary = system_binary("prometheus", "the dashboard and rules are queried through a real "
                                             "Prometheus")
        self.process = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--storage.tsdb.retention.time=1d"],
            stdout=subprocess.DEVNULL, stderr=open(self.log, "wb"),  # noqa: SIM115
            stdin=subprocess.DEVNULL)

    def ready(self) -> bool:
        assert self.process.poll() is None, self.log.read_text(errors="replace")[-3000:]
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as answer:
                return answer.status == 200
        except OSError:
            return False

    def api(self, path: str, **params: str) -> Any:
        """The `data` of a successful API answer; a failed one fails the test with its error."""
        url = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=30) as answer:
                body = orjson.loads(answer.read())
        except urllib.error.HTTPError as exc:
            body = orjson.loads(exc.read())
        assert body["status"] == "success", (params, body)
        return body["data"]

    def range(self, expr: str, start: float, end: float) -> list[dict[str, Any]]:
        data = self.api("query_range", query=expr, start=f"{start:.3f}", end=f"{end:.3f}",
                        step=f"{SCRAPE}s")
        assert data["resultType"] == "matrix"
        return list(data["result"])

    def instant(self, expr: str) -> list[dict[str, Any]]:
        return list(self.api("query", query=expr)["result"])

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with HttpReceiver() as running:
        yield running


def outage_scenario(tmp_path: Path) -> tuple[Path, Path]:
    """The two-hour outage scenario from T0 at 5 requests a second (a fifth of the shared one's
    rate: the same burn, produced faster), split where the outage ends."""
    lines = list(iter_jsonl(preset("outage", start=T0, duration=2 * 3600, rate=5, seed=3)))
    before, after = tmp_path / "before.jsonl", tmp_path / "after.jsonl"
    before.write_bytes(b"".join(line for line in lines if orjson.loads(line)["ts"] < RECOVERY))
    after.write_bytes(b"".join(line for line in lines if orjson.loads(line)["ts"] >= RECOVERY))
    return before, after


def readiness(live: Live, name: str) -> int | None:
    """The worker's /readyz status, None while its API does not answer."""
    try:
        with urllib.request.urlopen(f"{live.api[name]}/readyz", timeout=2) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return None


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL as written) of every target of every panel."""
    data = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return [(item["title"], query["expr"]) for item in data["panels"] if item["type"] != "row"
            for query in item["targets"]]


def substitute(expr: str, values: dict[str, list[str]]) -> str:
    """Variables replaced as Grafana does for Prometheus: a multi-value as `(a|b)`, each value's
    regex characters escaped inside the PromQL string (`\\\\.`)."""
    expr = expr.replace("$__rate_interval", RATE_INTERVAL)
    for name, picked in sorted(values.items(), key=lambda item: -len(item[0])):
        text = "(" + "|".join(re.sub(r"([\\^$.|?*+()\[\]{}])", r"\\\\\1", v)
                              for v in picked) + ")"
        expr = expr.replace("${" + name + "}", text).replace("$" + name, text)
    assert "$" not in expr, expr
    return expr


def variable_values(prometheus: Prometheus) -> dict[str, list[str]]:
    """Each query variable's values, its `label_values(selector, label)` asked in turn."""
    data = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    values: dict[str, list[str]] = {}
    for variable in data["templating"]["list"]:
        if variable["type"] != "query":
            continue
        match = re.fullmatch(r"label_values\((.+), (\w+)\)", variable["query"]["query"])
        assert match, variable
        selector = substitute(match.group(1), values)
        found = prometheus.api(f"label/{match.group(2)}/values", **{"match[]": selector})
        assert found, f"variable {variable['name']}: no values for {selector}"
        values[variable["name"]] = sorted(found)
    return values


def rule_expressions() -> tuple[list[str], list[str]]:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    return ([r["expr"] for r in rules if "record" in r], [r["expr"] for r in rules if "alert" in r])


def operands(alert: str) -> list[str]:
    """The signals an alert compares: each side of and/or/unless, its threshold taken off."""
    return [re.sub(r"\s*(==|!=|>=|<=|>|<)\s*-?[0-9.]+\s*$", "", part)
            for part in re.split(r"\s+(?:and|or|unless)\s+", alert.strip())]


def values_of(series: list[dict[str, Any]], **labels: str) -> list[float]:
    return [float(v) for s in series if labels.items() <= s["metric"].items()
            for _, v in s["values"]]


def test_prometheus_sees_the_outage_through_every_dashboard_and_rule_expression(
    live_factory: Callable[..., Live], tmp_path: Path, receiver: HttpReceiver,
) -> None:
    slos = tmp_path / "slos.yaml"
    slos.write_text(SLO_FILE.format(url=receiver.url("hook")))
    receiver.answer("hook", 500)  # the first attempt fails, the retry is delivered
    live = live_factory(slos, SRE_IDLE_TIMEOUT=REPLAY_IDLE)
    live.start_worker("w1", wait=False)
    prometheus = Prometheus(tmp_path, live.api["w1"].removeprefix("http://"))
    try:
        # Readiness: 503 while the worker joins and restores, 200 once it counts.
        statuses: list[int] = []

        def answered_ready() -> bool:
            status = readiness(live, "w1")
            if status is not None:
                statuses.append(status)
            return status == 200

        wait_for(answered_ready, 90, live, "GET /readyz to answer 200")
        assert statuses[0] == 503, statuses
        assert live.partitions("w1"), "ready without its input partitions"
        wait_for(prometheus.ready, 60, live, "Prometheus to start")
        # A counter's first sample shows no rate of its own: the delivery counters (at 0 for
        # every receiver from the start) are scraped before the failed attempt can happen.
        wait_for(lambda: bool(prometheus.instant('sre_deliveries_total{outcome="retry"}')), 60,
                 live, "Prometheus to scrape the worker")
        started = time.time()

        # Event time runs far faster than the scrapes: the traffic comes in two parts, each
        # scraped once the worker has counted it, so Prometheus holds the outage at its height
        # (the snapshot of its 13th minute) and then the two hours' end.
        first, rest = outage_scenario(tmp_path)
        # A dead letter now and one later: a counter's first sample shows no rate of its own.
        send_requests(live, [(b"checkout", b"{not json")])
        produce(live, first)
        wait_for(lambda: bool(prometheus.instant(
            f"sre_slo_snapshot_timestamp_seconds{{slo='checkout-availability'}} >= {OUTAGE + 13 * 60}"
            )), 90, live, "Prometheus to scrape a snapshot late in the outage")
        time.sleep(2 * SCRAPE)  # evaluation steps of the range queries see it
        peak = time.time()
        send_requests(live, [(b"checkout", b"{not json")])
        produce(live, rest)
        wait_for(lambda: bool(prometheus.instant(
            f"sre_slo_snapshot_timestamp_seconds{{slo='checkout-availability'}} >= {LAST_SNAPSHOT}")
            ) and bool(prometheus.instant('sre_deliveries_total{outcome="delivered"}')),
            120, live, "the last snapshot and a delivery scraped")
        time.sleep(2 * SCRAPE)  # the rules evaluated on the last scrape
        end = time.time()

        # Every dashboard query, variables substituted with what the worker exposes, returns data.
        values = variable_values(prometheus)
        assert values["service"] == ["checkout", "search"]
        assert values["job"] == ["sre-streams"]
        panels: dict[str, list[dict[str, Any]]] = {}
        for title, expr in dashboard_queries():
            result = prometheus.range(substitute(expr, values), started, end)
            assert result, f"panel {title!r}: no data for {expr}"
            panels.setdefault(title, []).extend(result)

        # The SLO panels show the outage: the short windows burn at 100x during it (every
        # request failing, 1% allowed) and recover after it; the long ones keep its burn, so the
        # 30-day budget is overspent and the gate frozen.
        def during(title: str, **labels: str) -> list[float]:
            return [float(v) for s in panels[title] if labels.items() <= s["metric"].items()
                    for t, v in s["values"] if t <= peak]

        def last(title: str, **labels: str) -> float:
            (series,) = [s for s in panels[title] if labels.items() <= s["metric"].items()]
            return float(series["values"][-1][1])

        checkout = {"slo": "checkout-availability"}
        burn = "Burn rate per window"
        assert max(during(burn, **checkout, window="5m")) == pytest.approx(100, rel=0.05)
        assert last(burn, **checkout, window="5m") < 1
        assert last(burn, **checkout, window="30d") == pytest.approx(15 / 120 / 0.01, rel=0.1)
        # Some 13 of 53 minutes failing, then 15 of 120: overspent many times over, less so
        # as good traffic follows.
        budget = "Error budget remaining"
        assert min(during(budget, **checkout)) < -10
        assert min(during(budget, **checkout)) < last(budget, **checkout) < 0
        assert last("Deploy gate", service="checkout") == 2.0  # frozen
        assert last("Deploy gate", service="search") == 0.0  # ok
        assert max(during("Rules firing over time", **checkout, rule="page-fast")) == 1.0
        worst = prometheus.range(substitute(dict(dashboard_queries())[
            "Worst burn rate per window"], values), peak - 1, peak)
        assert max(float(v) for s in worst if s["metric"]["slo"] == checkout["slo"]
                   for _, v in s["values"]) == pytest.approx(100, rel=0.05)
        assert max(values_of(panels["Dead letters by reason"], reason="invalid JSON")) > 0

        # Every rule parses; every recorded signal and every signal an alert compares has data.
        recorded, alerts = rule_expressions()
        for expr in recorded:
            assert prometheus.range(expr, started, end), f"no data for the recording rule {expr}"
        for expr in alerts:
            prometheus.range(expr, started, end)  # parses (an error fails in `api`)
            for signal in operands(expr):
                assert prometheus.range(signal, started, end), f"no data for {signal} in {expr}"
        ratio = prometheus.instant("sre_streams:deliveries_failed:ratio10m")
        assert ratio and 0 < float(ratio[0]["value"][1]) < 1  # one retry, then delivered
        assert prometheus.instant("sre_streams:responder_leaders:sum")[0]["value"][1] == "1"
    finally:
        prometheus.stop()
