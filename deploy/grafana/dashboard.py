"""The Grafana dashboard `sre-streams.json`, generated from this script so that it is reviewed as
code: `python deploy/grafana/dashboard.py --write` regenerates it, `--check` fails when the JSON
differs from what the script makes (the unit tests run that check).

Three rows over the workers' /metrics: the SLO overview, a drill-down into the SLOs picked in
the variables (series labels narrow it through the ad hoc filters), and the workers' health.
Every query reads the metrics as the worker exposes them (no recording rules needed).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

OUTPUT = Path(__file__).resolve().parent / "sre-streams.json"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
# The SLO metrics for the services and SLOs picked; ad hoc filters add series labels.
SLO = 'job=~"$job", service=~"$service", slo=~"$slo"'
WORKER = 'job=~"$job"'
GATE = 'job=~"$job", service=~"$service"'
Panel = dict[str, Any]


def target(expr: str, legend: str, ref: str, *, instant: bool = False) -> dict[str, Any]:
    return {"datasource": DATASOURCE, "expr": expr, "legendFormat": legend, "refId": ref,
            "range": not instant, "instant": instant}


def panel(kind: str, title: str, description: str, targets: list[tuple[str, str]], *,
          unit: str = "short", steps: list[tuple[str, float | None]] | None = None,
          instant: bool = False, options: dict[str, Any] | None = None,
          mappings: list[dict[str, Any]] | None = None,
          custom: dict[str, Any] | None = None) -> Panel:
    """One panel: `targets` are (PromQL, legend) pairs; `steps` (colour, from value) thresholds."""
    thresholds = [{"color": color, "value": value}
                  for color, value in (steps or [("green", None)])]
    return {
        "type": kind, "title": title, "description": description, "datasource": DATASOURCE,
        "targets": [target(expr, legend, chr(ord("A") + n), instant=instant)
                    for n, (expr, legend) in enumerate(targets)],
        "fieldConfig": {"defaults": {"unit": unit, "mappings": mappings or [],
                                     "thresholds": {"mode": "absolute", "steps": thresholds},
                                     "custom": custom or {}},
                        "overrides": []},
        "options": options or {},
    }


def row(title: str) -> Panel:
    return {"type": "row", "title": title, "collapsed": False, "panels": []}


BURN_STEPS = [("green", None), ("yellow", 1.0), ("orange", 6.0), ("red", 14.4)]
BUDGET_STEPS = [("red", None), ("orange", 0.0), ("yellow", 0.25), ("green", 0.5)]
FIRING = [{"type": "value", "options": {"0": {"text": "ok", "color": "green"},
                                        "1": {"text": "firing", "color": "red"}}}]
LEADER = [{"type": "value", "options": {"0": {"text": "follower", "color": "blue"},
                                        "1": {"text": "leader", "color": "green"}}}]
GATE_STATES = [{"type": "value", "options": {"0": {"text": "ok", "color": "green"},
                                              "1": {"text": "warn", "color": "yellow"},
                                              "2": {"text": "frozen", "color": "red"}}}]
TABLE = {"showHeader": True, "cellHeight": "sm"}
LEGEND = {"legend": {"displayMode": "table", "placement": "right", "calcs": ["lastNotNull", "max"]},
          "tooltip": {"mode": "multi", "sort": "desc"}}


def overview() -> list[tuple[Panel, int, int]]:
    """(panel, width, height) of the SLO overview row."""
    return [
        (panel("bargauge", "Error budget remaining, worst series",
               "The lowest budget remaining among each SLO's series, as of the latest budget "
               "snapshot (event time). Negative: overspent.",
               [(f"min by (service, slo) (sre_slo_error_budget_remaining{{{SLO}}})",
                 "{{service}} / {{slo}}")],
               unit="percentunit", steps=BUDGET_STEPS, instant=True,
               options={"orientation": "horizontal", "displayMode": "gradient",
                        "reduceOptions": {"calcs": ["lastNotNull"], "values": False}}), 8, 8),
        (panel("table", "Worst burn rate per window",
               "The highest burn rate among each SLO's series over each alerting window: 1 "
               "spends the budget exactly over the period; the fast page fires at 14.4.",
               [(f"max by (service, slo, window) (sre_slo_burn_rate{{{SLO}, window=~\"$window\"}})",
                 "{{slo}} {{window}}")],
               steps=BURN_STEPS, instant=True, options=TABLE,
               custom={"cellOptions": {"type": "color-background"}}), 8, 8),
        (panel("table", "Rules firing",
               "Each alerting rule of each SLO series: firing now or not.",
               [(f"max by (service, slo, rule, severity) (sre_alert_firing{{{SLO}}})",
                 "{{slo}} {{rule}}")],
               instant=True, mappings=FIRING, options=TABLE,
               custom={"cellOptions": {"type": "color-background"}}), 8, 8),
        (panel("state-timeline", "Deploy gate",
               "The budget-policy state of each service: ok (deploys allowed), warn (allowed "
               "with a warning), frozen (denied without an exception or an override).",
               [(f'sum by (service) (sre_budget_policy_state{{{GATE}, state="warn"}}) + 2 * '
                 f'sum by (service) (sre_budget_policy_state{{{GATE}, state="frozen"}})',
                 "{{service}}")],
               mappings=GATE_STATES, options={"showValue": "auto", "mergeValues": True}), 24, 6),
    ]


def drilldown() -> list[tuple[Panel, int, int]]:
    """The SLOs picked in the variables, over time, series by series."""
    series = "{{slo}} {{window}} {{service}}"
    return [
        (panel("timeseries", "SLI per window",
               "good / total over each window (1 with no events), per series.",
               [(f'sre_slo_sli{{{SLO}, window=~"$window"}}', series)],
               unit="percentunit", options=LEGEND), 12, 9),
        (panel("timeseries", "Burn rate per window",
               "(1 - SLI) / (1 - objective) over each window, per series; thresholds at 1, 6 "
               "and 14.4 (the default policy's ticket, slow page and fast page).",
               [(f'sre_slo_burn_rate{{{SLO}, window=~"$window"}}', series)],
               steps=BURN_STEPS, options=LEGEND,
               custom={"thresholdsStyle": {"mode": "dashed"}}), 12, 9),
        (panel("timeseries", "Error budget remaining",
               "1 - burn rate over the SLO's period, per series.",
               [(f"sre_slo_error_budget_remaining{{{SLO}}}", "{{slo}} {{service}}")],
               unit="percentunit", steps=BUDGET_STEPS, options=LEGEND,
               custom={"thresholdsStyle": {"mode": "line"}}), 12, 9),
        (panel("state-timeline", "Rules firing over time",
               "Each alerting rule of each series, firing or not.",
               [(f"sre_alert_firing{{{SLO}}}", "{{slo}} {{rule}}")],
               mappings=FIRING, options={"showValue": "never", "mergeValues": True}), 12, 9),
        (panel("stat", "Objective", "The objective of each SLO picked.",
               [(f"max by (slo) (sre_slo_objective{{{SLO}}})", "{{slo}}")],
               unit="percentunit", instant=True,
               options={"reduceOptions": {"calcs": ["lastNotNull"]}}), 12, 5),
        (panel("timeseries", "Snapshot age (event time)",
               "Wall-clock time since the event time of each series' latest budget snapshot: "
               "it grows while a series gets no events and no idle evaluation.",
               [(f"time() - max by (slo) (sre_slo_snapshot_timestamp_seconds{{{SLO}}})",
                 "{{slo}}")],
               unit="s", options=LEGEND), 12, 5),
    ]


def worker_health() -> list[tuple[Panel, int, int]]:
    rate = "[$__rate_interval]"
    return [
        (panel("timeseries", "Events per second",
               "Events counted by each worker.",
               [(f"sum by (instance) (rate(sre_events_consumed_total{{{WORKER}}}{rate}))",
                 "{{instance}}")], unit="ops", options=LEGEND), 8, 8),
        (panel("timeseries", "Consumer lag per partition",
               "Input messages not yet counted, per input partition (by the worker holding it).",
               [(f"max by (partition, instance) (sre_consumer_lag{{{WORKER}}})",
                 "partition {{partition}} ({{instance}})")], options=LEGEND), 8, 8),
        (panel("timeseries", "Dead letters by reason",
               "Input refused per second, by reason class (`sre-streams tail sre.dead-letter` "
               "shows the messages).",
               [(f"sum by (reason) (rate(sre_dead_letters_total{{{WORKER}}}{rate}))",
                 "{{reason}}")], unit="ops", options=LEGEND), 8, 8),
        (panel("timeseries", "Late events",
               "Events per second that arrived after their evaluation instant had passed "
               "(counted, reported late).",
               [(f"sum by (instance) (rate(sre_late_events_total{{{WORKER}}}{rate}))",
                 "{{instance}}")], unit="ops", options=LEGEND), 8, 8),
        (panel("state-timeline", "Responder leader",
               "Which worker holds budgets, incidents and policy (and serves the SLO metrics).",
               [(f"max by (instance) (sre_responder_leader{{{WORKER}}})", "{{instance}}")],
               mappings=LEADER, options={"showValue": "auto", "mergeValues": True}), 8, 8),
        (panel("timeseries", "Checkpoint latency",
               "Time to store one checkpoint in its changelog: 50th and 99th percentiles by state "
               "(engine partitions, incident book).",
               [(f"histogram_quantile(0.99, sum by (le, state) "
                 f"(rate(sre_checkpoint_duration_seconds_bucket{{{WORKER}}}{rate})))", "p99 {{state}}"),
                (f"histogram_quantile(0.5, sum by (le, state) "
                 f"(rate(sre_checkpoint_duration_seconds_bucket{{{WORKER}}}{rate})))", "p50 {{state}}")],
               unit="s", options=LEGEND), 8, 8),
        (panel("timeseries", "Notification latency",
               "Time of one notification attempt, 99th percentile by receiver.",
               [(f"histogram_quantile(0.99, sum by (le, receiver) "
                 f"(rate(sre_delivery_duration_seconds_bucket{{{WORKER}}}{rate})))", "{{receiver}}")],
               unit="s", options=LEGEND), 12, 8),
        (panel("timeseries", "Notification outcomes",
               "Attempts per second by receiver and outcome (delivered, retry, dead).",
               [(f"sum by (receiver, outcome) (rate(sre_deliveries_total{{{WORKER}}}{rate}))",
                 "{{receiver}} {{outcome}}")], unit="ops", options=LEGEND), 12, 8),
    ]


def variable(name: str, label: str, query: str, *, multi: bool = True) -> dict[str, Any]:
    return {"type": "query", "name": name, "label": label, "datasource": DATASOURCE,
            "query": {"query": query, "refId": f"{name}-values"}, "definition": query,
            "refresh": 2, "sort": 1, "multi": multi, "includeAll": True, "allValue": ".*",
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]}}


def templating() -> list[dict[str, Any]]:
    return [
        {"type": "datasource", "name": "datasource", "label": "Data source", "query": "prometheus",
         "current": {}, "hide": 0},
        variable("job", "Job", "label_values(sre_responder_leader, job)"),
        variable("service", "Service", 'label_values(sre_slo_objective{job=~"$job"}, service)'),
        variable("slo", "SLO",
                 'label_values(sre_slo_objective{job=~"$job", service=~"$service"}, slo)'),
        variable("window", "Window",
                 'label_values(sre_slo_burn_rate{job=~"$job", slo=~"$slo"}, window)'),
        {"type": "adhoc", "name": "filters", "label": "Series labels", "datasource": DATASOURCE,
         "filters": [], "hide": 0},
    ]


def dashboard() -> dict[str, Any]:
    panels: list[Panel] = []
    y = 0
    for title, section in (("SLO overview", overview()), ("SLO drill-down", drilldown()),
                           ("Worker health", worker_health())):
        panels.append({**row(title), "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}})
        y += 1
        x, line = 0, 0
        for item, width, height in section:
            if x + width > 24:
                x, y = 0, y + line
                line = 0
            panels.append({**item, "gridPos": {"h": height, "w": width, "x": x, "y": y}})
            x, line = x + width, max(line, height)
        y += line
    for number, item in enumerate(panels, start=1):
        item["id"] = number
    return {
        "uid": "sre-streams", "title": "sre-streams", "description": "SLOs, error budgets and "
        "burn rates computed by sre-streams, and the health of its workers.",
        "tags": ["sre-streams", "slo"], "timezone": "browser", "editable": True,
        "graphTooltip": 1, "schemaVersion": 39, "version": 1, "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"}, "fiscalYearStartMonth": 0,
        "links": [], "annotations": {"list": []}, "liveNow": False,
        "templating": {"list": templating()}, "panels": panels,
    }


def render() -> str:
    return json.dumps(dashboard(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help=f"write {OUTPUT.name}")
    mode.add_argument("--check", action="store_true", help=f"fail if {OUTPUT.name} is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.write:
        OUTPUT.write_text(text, encoding="utf-8")
        return 0
    if not OUTPUT.exists() or OUTPUT.read_text(encoding="utf-8") != text:
        print(f"{OUTPUT} is stale: run python {Path(__file__).name} --write", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
