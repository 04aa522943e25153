"""Alerts for Alertmanager's API: one per rule, labels to route on, endsAt ahead or at the end."""

from __future__ import annotations

import msgspec
import pytest

from streams.domain.incidents.book import IncidentBook
from streams.domain.notify.receivers import payload
from streams.domain.slo.loader import SloFileError, parse_slo_text
from streams.domain.timestamps import format_ts
from tests.unit.conftest import BASE, T0, alert, command

NOTIFY = BASE + """notify:
  receivers:
    - {name: am, alertmanager_api: {url: "http://127.0.0.1:9093/", resend: 30s}}
  routes:
    - {receiver: am}
"""


def test_each_alert_of_the_incident_is_an_alertmanager_alert_with_its_labels() -> None:
    receiver = parse_slo_text(NOTIFY).notify.receivers["am"]
    assert receiver.url == "http://127.0.0.1:9093/api/v2/alerts" and receiver.resend == 30
    book = IncidentBook()
    [opened] = book.on_alert(alert("page-fast", "firing", T0))
    book.on_alert(alert("ticket-slow", "firing", T0 + 10))
    [mitigated] = book.on_alert(alert("page-fast", "resolved", T0 + 600))
    body = payload(receiver, mitigated, None, now=T0 + 620, api_url="http://w1:8080")
    assert isinstance(body, list)
    page, ticket = sorted(msgspec.to_builtins(body), key=lambda a: a["labels"]["rule"])
    assert page["labels"] == {"alertname": "ErrorBudgetBurn", "slo": "checkout-availability",
                              "service": "checkout", "region": "eu", "team": "payments",
                              "rule": "page-fast", "severity": "page"}
    assert page["endsAt"] == format_ts(T0 + 600), "resolved: its resolution"
    assert ticket["endsAt"] == format_ts(T0 + 620 + 4 * 30), "firing: four re-sends ahead"
    assert ticket["startsAt"] == format_ts(T0 + 10)
    assert page["generatorURL"] == "http://w1:8080/v1/alerts"
    assert ticket["annotations"]["incident"] == opened.id
    assert ticket["annotations"]["incident_status"] == "mitigated"
    assert ticket["annotations"]["runbook_url"] == "https://runbooks.example/checkout"
    assert float(ticket["annotations"]["burn_rate_long"]) == pytest.approx(20.0)
    [resolved] = book.on_command(command("resolve", opened.id, T0 + 700))
    ended = payload(receiver, resolved, None, now=T0 + 720)
    assert isinstance(ended, list)
    assert {a.ends_at for a in ended} == {format_ts(T0 + 600), format_ts(T0 + 700)}


def test_a_bad_alertmanager_api_receiver_names_the_problem() -> None:
    with pytest.raises(SloFileError) as error:
        parse_slo_text(BASE + """notify:
  receivers:
    - {name: am, alertmanager_api: {url: "ftp://x", resend: soon, group: x}}
""")
    assert error.value.problems == [
        "notify.receivers[0].alertmanager_api.group: unknown key (allowed: rate_per_minute, "
        "resend, url)",
        "notify.receivers[0].alertmanager_api.resend: must be a duration such as 5m, 1h or 30d, "
        "got 'soon'"]
