"""Receivers, routes and payload formats (PagerDuty Events v2, Alertmanager v4, Slack, raw)."""

from __future__ import annotations

from typing import Any

import msgspec
import orjson
import pytest

from streams.domain.incidents.book import IncidentBook
from streams.domain.notify.receivers import Payload, delivery_key, payload
from streams.domain.slo.loader import SloFileError, parse_slo_text
from streams.domain.timestamps import format_ts
from streams.wire.codec import encode
from streams.wire.incidents import IncidentEvent
from tests.unit.conftest import BASE, T0, alert, command

NOTIFY = BASE + """notify:
  receivers:
    - name: payments-pager
      pagerduty: {routing_key: "0123456789abcdef0123456789abcdef", url: "http://127.0.0.1:9/pd"}
    - {name: ops-hook, webhook: {url: "http://127.0.0.1:9/am", format: alertmanager}}
    - {name: chat, webhook: {url: "http://127.0.0.1:9/chat", format: slack}}
  routes:
    - {match: {team: payments}, receiver: payments-pager}
    - {receiver: ops-hook}
"""


def events() -> list[IncidentEvent]:
    book = IncidentBook()
    made = book.on_alert(alert("page-fast", "firing", T0, budget=0.93))
    ident = made[0].id
    made += book.on_command(command("ack", ident, T0 + 60))
    made += book.on_alert(alert("page-fast", "resolved", T0 + 600))
    return made


def body_of(body: Payload | None) -> Any:
    """The JSON a receiver is sent (None: nothing is sent)."""
    return None if body is None else orjson.loads(encode(body))


def test_routes_pick_the_first_matching_receiver_and_escalations_page_their_levels() -> None:
    config = parse_slo_text(NOTIFY).notify
    opened = events()[0]
    assert [r.name for r in config.receivers_for(opened)] == ["payments-pager"]
    other = msgspec.structs.replace(opened, labels={"team": "search"})
    assert [r.name for r in config.receivers_for(other)] == ["ops-hook"]
    escalated = msgspec.structs.replace(other, event="escalated", escalation_level=1,
                                        notify=["chat", "payments-pager"])
    assert [r.name for r in config.receivers_for(escalated)] == ["chat", "payments-pager"]
    levels = [["chat", "payments-pager"], ["ops-hook"]]
    resolved = msgspec.structs.replace(other, event="resolved", status="resolved",
                                       escalation_level=1)
    assert [r.name for r in config.receivers_for(resolved, levels)] == [
        "ops-hook", "chat", "payments-pager"], "those paged by an escalation hear the end"
    assert [r.name for r in config.receivers_for(
        msgspec.structs.replace(resolved, escalation_level=0), levels)] == ["ops-hook"]


def test_pagerduty_gets_trigger_acknowledge_and_resolve_with_one_dedup_key() -> None:
    receiver = parse_slo_text(NOTIFY).notify.receivers["payments-pager"]
    bodies = [body_of(payload(receiver, e, "0123456789abcdef0123456789abcdef"))
              for e in events()]
    assert [b["event_action"] for b in bodies] == ["trigger", "acknowledge", "resolve"]
    assert len({b["dedup_key"] for b in bodies}) == 1
    trigger = bodies[0]
    assert trigger is not None
    assert trigger["routing_key"] == "0123456789abcdef0123456789abcdef"
    assert trigger["payload"]["severity"] == "critical"
    assert trigger["payload"]["source"] == "sre-streams/checkout"
    assert trigger["payload"]["summary"].startswith("[P1] checkout-availability {region=eu}")
    assert trigger["payload"]["custom_details"]["error_budget_remaining"] == pytest.approx(0.93)
    assert trigger["links"] == [{"href": "https://runbooks.example/checkout", "text": "Runbook"}]
    assert "Receiver(name='payments-pager'" in repr(receiver)
    assert "0123456789abcdef" not in repr(receiver), "the key stays out of logs"


def test_alertmanager_webhook_v4_shape() -> None:
    receiver = parse_slo_text(NOTIFY).notify.receivers["ops-hook"]
    opened, _, resolved = (body_of(payload(receiver, e, None)) for e in events())
    assert opened is not None and resolved is not None
    assert opened["version"] == "4" and opened["status"] == "firing"
    assert set(opened) >= {"groupKey", "status", "alerts", "commonLabels", "groupLabels"}
    [firing] = opened["alerts"]
    assert firing["labels"]["region"] == "eu" and firing["labels"]["severity"] == "P1"
    assert firing["startsAt"] == format_ts(T0) and firing["fingerprint"]
    assert resolved["status"] == "resolved"
    assert resolved["alerts"][0]["endsAt"] == format_ts(T0 + 600)


def test_slack_text_and_delivery_keys() -> None:
    receiver = parse_slo_text(NOTIFY).notify.receivers["chat"]
    body = body_of(payload(receiver, events()[0], None))
    assert body is not None and body["text"].startswith("[P1] OPENED: checkout-availability")
    first, second = events()[0], events()[1]
    assert delivery_key(first, "chat", 1) == delivery_key(
        msgspec.convert(msgspec.to_builtins(first), IncidentEvent), "chat", 1)
    assert delivery_key(first, "chat", 1) != delivery_key(second, "chat", 2)
    assert delivery_key(first, "chat", 1) != delivery_key(first, "ops-hook", 1)
    assert delivery_key(first, "chat", 1) != delivery_key(first, "chat", 2), "same kind and time"


def test_a_bad_notify_section_names_every_problem_with_its_path() -> None:
    with pytest.raises(SloFileError) as error:
        parse_slo_text(BASE + """notify:
  receivers:
    - {name: pd, pagerduty: {routing_key: short}}
    - {name: hook, webhook: {url: "ftp://x", format: teams}}
    - {name: both, pagerduty: {routing_key_env: K}, webhook: {url: "http://x"}}
  routes:
    - {receiver: nowhere}
incidents:
  escalation: {levels: [{after: 5m, notify: [ghost]}]}
""")
    assert error.value.problems == [
        "notify.receivers[0].pagerduty.routing_key: must be the 32-character integration key",
        "notify.receivers[1].webhook.format: must be alertmanager, slack or raw, got 'teams'",
        "notify.receivers[2]: needs exactly one of pagerduty, webhook or alertmanager_api",
        "notify.routes[0].receiver: unknown receiver 'nowhere'",
        "incidents.escalation.levels[0].notify: unknown receiver 'ghost' (define it under "
        "notify.receivers)",
    ]
