"""`GET /v1/capacity` and the capacity metrics, from capacity events."""

from __future__ import annotations

import subprocess

from prometheus_client import CollectorRegistry, generate_latest

from streams.runtime.capacity_view import capacity_document, capacity_metrics
from streams.wire.capacity import BacktestScore, Bounds, CapacityEvent, TimeBounds
from tests.conftest import assert_valid, system_binary


def event(service: str, status: str, p50: float | None, p90: float | None,
          resource: str | None = None, usable: float | None = 100.0) -> CapacityEvent:
    return CapacityEvent(
        at="2026-12-01T10:00:00.000Z", service=service, resource=resource, unit="requests/s",
        usable_capacity=usable, peak_now=50.0, growth_per_day=0.01,
        runway_days=Bounds(p50=p50, p90=p90), exhausted_at=TimeBounds(p50=None, p90=None),
        lead_time_days=30.0, status=status, forecast=[],  # type: ignore[arg-type]
        backtest=BacktestScore(coverage_p10_p90=0.8, mape=0.05), warnings=[])


EVENTS = [event("search", "ok", None, None), event("checkout", "critical", 12.0, 9.5),
          event("catalog", "warn", 50.0, 40.0), event("search", "unknown", None, None, "disk", None)]


def test_the_document_is_a_capacity_report_most_urgent_first() -> None:
    document = capacity_document(EVENTS)
    assert_valid("capacity-report", document)
    assert [(s["service"], s["status"]) for s in document["services"]] == [  # type: ignore[attr-defined]
        ("checkout", "critical"), ("catalog", "warn"), ("search", "ok"), ("search", "unknown")]
    assert capacity_document([])["at"] is None


def test_metrics_give_both_bounds_and_usable_capacity_and_pass_promtool() -> None:
    registry = CollectorRegistry()

    class Collector:
        def collect(self):  # type: ignore[no-untyped-def]
            return capacity_metrics(EVENTS)

    registry.register(Collector())  # type: ignore[arg-type]
    text = generate_latest(registry).decode()
    assert 'sre_capacity_runway_days{bound="p90",resource="",service="checkout"} 9.5' in text
    assert 'sre_capacity_runway_days{bound="p50",resource="",service="search"} +Inf' in text
    assert 'sre_capacity_usable{resource="",service="catalog"} 100.0' in text
    assert 'resource="disk"' not in text  # capacity unknown: nothing to say
    promtool = system_binary("promtool", "checks the metrics text format")
    checked = subprocess.run([promtool, "check", "metrics"], input=text, text=True,
                             capture_output=True, check=False)
    # Parsed (a parse error exits 1); the one lint (exit 3) is the name's unit, which the
    # contract fixes: Prometheus prefers seconds, a runway reads in days.
    assert checked.returncode in (0, 3), checked.stdout + checked.stderr
    assert checked.stderr.splitlines() == [
        'sre_capacity_runway_days use base unit "seconds" instead of "days"']
