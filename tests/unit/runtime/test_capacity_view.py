"""`GET /v1/capacity` and the capacity metrics, from capacity events."""

from __future__ import annotations

import subprocess

from prometheus_client import CollectorRegistry, generate_latest

from streams.runtime.capacity_view import capacity_document, capacity_metrics
from tests.conftest import assert_valid, system_binary
from tests.unit.runtime.capacity_events import EVENTS


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
