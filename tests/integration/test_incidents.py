"""Incidents and pages on a real broker, delivered to a real HTTP receiver on loopback."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from streams.domain.timestamps import format_ts, parse_ts
from tests.conftest import assert_valid
from tests.integration.conftest import (
    REPLAY_IDLE,
    T0,
    HttpReceiver,
    Live,
    kill,
    produce,
    read,
    scenario,
    send,
    wait_for,
)

pytestmark = pytest.mark.integration

OUTAGE = T0 + 40 * 60  # the preset's outage: 15 minutes from a third of the two hours
ROUTING_KEY = "0123456789abcdef0123456789abcdef"

SLO_FILE = """apiVersion: sre-streams/v1
defaults: {{window: 30d, alerting: pages, min_events: 1000}}
alerting:
  pages:
    - {{name: page-fast, severity: page, long: 1h, short: 5m, budget_percent: 2}}
    - {{name: page-slow, severity: page, long: 6h, short: 30m, budget_percent: 5}}
slos:
  - name: checkout-availability
    service: checkout
    objective: 99.9%
    sli: {{availability: {{bad_status: ["5xx", 429]}}}}
    labels: {{team: {team}}}
    runbook_url: https://runbooks.example/checkout-availability
incidents:
  escalation:
    levels:
      - {{after: 3m, notify: [oncall-1]}}
      - {{after: 3m, notify: [oncall-2]}}
notify:
  receivers:
    - name: payments-pager
      pagerduty: {{routing_key_env: TEST_PD_KEY, url: "{url}pd"}}
    - name: ops-hook
      webhook: {{url: "{url}ops", format: alertmanager}}
    - name: oncall-1
      webhook: {{url: "{url}oncall-1", format: raw}}
    - name: oncall-2
      webhook: {{url: "{url}oncall-2", format: slack}}
  routes:
    - {{match: {{team: payments}}, receiver: payments-pager}}
    - {{receiver: ops-hook}}
"""

Message = dict[str, object]


def start(live_factory: Callable[..., Live], tmp_path: Path, receiver: HttpReceiver,
          team: str) -> Live:
    slos = tmp_path / "slos.yaml"
    slos.write_text(SLO_FILE.format(team=team, url=receiver.url("")))
    live = live_factory(slos, SRE_IDLE_TIMEOUT=REPLAY_IDLE, TEST_PD_KEY=ROUTING_KEY)
    live.start_worker("w1")
    return live


def incidents(live: Live) -> list[Message]:
    return read(live, live.settings.topics.incidents, quiet_ms=200)


def events_of(live: Live) -> list[str]:
    return [str(m["event"]) for m in incidents(live)]


def accepted_once_each(receiver: HttpReceiver, *paths: str) -> None:
    """Every delivery accepted exactly once (the `Idempotency-Key` names a delivery)."""
    accepted = Counter(r["key"] for path in paths for r in receiver.received(path)
                       if r["status"] < 300)
    assert accepted and max(accepted.values()) == 1, accepted


def test_an_outage_pages_once_is_acknowledged_and_resolved_with_a_postmortem(
    live_factory: Callable[..., Live], tmp_path: Path,
) -> None:
    with HttpReceiver() as receiver:
        receiver.answer("pd", 500, 500)  # then 202: retried, still a single trigger
        live = start(live_factory, tmp_path, receiver, team="payments")
        first, rest = scenario(tmp_path, cut=OUTAGE + 4 * 60)  # the page, not yet escalated
        produce(live, first)
        wait_for(lambda: "opened" in events_of(live), 120, live, "the incident to open")
        [opened] = [m for m in incidents(live) if m["event"] == "opened"]
        ident, opened_at = str(opened["id"]), parse_ts(str(opened["opened_at"]))
        assert opened["severity"] in {"P1", "P2"} and opened["status"] == "open"
        assert OUTAGE < opened_at < OUTAGE + 3 * 60

        wait_for(lambda: bool(receiver.received("pd", 202)), 60, live, "the trigger")
        send(live, live.settings.topics.deploys,
             {"ts": format_ts(OUTAGE - 60), "service": "checkout", "version": "v42",
              "by": "deploybot"})
        send(live, live.settings.topics.commands,
             {"command": "ack", "incident": ident, "by": "alice", "ts": format_ts(opened_at + 60)},
             {"command": "ack", "incident": "inc-000000000000", "by": "alice",
              "ts": format_ts(opened_at + 60)},
             {"command": "note", "incident": ident, "by": "mallory", "ts": time.time() + 365 * 86400,
              "text": "x"})
        send(live, live.settings.topics.alerts, {**opened["alerts"][0], "labels": ["bad"],  # type: ignore[index]
                                                 "slo": "checkout-availability", "series": {},
                                                 "service": "checkout", "at": format_ts(opened_at)})
        wait_for(lambda: "acknowledged" in events_of(live), 60, live, "the acknowledgement")
        produce(live, rest)
        wait_for(lambda: "resolved" in events_of(live), 120, live, "the resolution")
        wait_for(lambda: len(receiver.received("pd", 202)) >= 3, 60, live, "acknowledge, resolve")

        messages = incidents(live)
        for message in messages:
            assert_valid("sre.incidents", message)
        assert messages[0]["event"] == "opened"
        assert {str(m["id"]) for m in messages} == {ident}, "one incident for the series"
        assert "escalated" not in events_of(live), "acknowledged before its first level"

        pd = receiver.received("pd")
        assert [(r["status"], r["body"]["event_action"]) for r in pd] == [
            (500, "trigger"), (500, "trigger"), (202, "trigger"), (202, "acknowledge"),
            (202, "resolve")]
        assert {r["body"]["dedup_key"] for r in pd} == {ident}
        assert {r["body"]["routing_key"] for r in pd} == {ROUTING_KEY}
        trigger = pd[2]["body"]
        assert trigger["payload"]["severity"] == {"P1": "critical", "P2": "error"}[
            str(opened["severity"])]
        assert messages[-1]["severity"] == "P1", "page-fast fired: the severity rose to P1"
        assert trigger["payload"]["source"] == "sre-streams/checkout"
        assert trigger["links"] == [{"href": "https://runbooks.example/checkout-availability",
                                     "text": "Runbook"}]
        details = trigger["payload"]["custom_details"]
        assert [a["rule"] for a in details["alerts"]] == [a["rule"] for a in opened["alerts"]]  # type: ignore[union-attr]
        assert details["error_budget_remaining"] == opened["error_budget_remaining"]
        assert ROUTING_KEY not in live.logs(), "a secret in the worker's log"

        dead = read(live, live.settings.topics.dead_letter)
        reasons = sorted(str(d["reason"]) for d in dead)
        assert reasons[0].startswith("alert refused: "), reasons  # labels not a mapping
        assert reasons[1:] == ["command refused: unknown incident 'inc-000000000000'",
                               "invalid command: timestamp in the future"], reasons

        shown = live.cli("incidents", "postmortem", ident)
        assert shown.returncode == 0, shown.stderr
        rows = [line.split("|") for line in shown.stdout.splitlines() if line.startswith("| 2026-")]
        kinds = [row[2].strip() for row in rows]
        assert [row[1] for row in rows] == sorted(row[1] for row in rows), "in time order"
        assert kinds[0] == "deploy" and "v42" in rows[0][3], kinds
        assert kinds.index("opened") < kinds.index("ack") < kinds.index("resolved") == len(kinds) - 1
        assert kinds.count("alert") >= 3, kinds  # firing and resolutions
        assert "Error budget consumed during the incident: **" in shown.stdout
        assert "acknowledged by alice" in shown.stdout

        stats = live.cli("incidents", "stats", "--json")
        assert stats.returncode == 0, stats.stderr
        overall = orjson.loads(stats.stdout)["overall"]
        assert overall["incidents"] == 1 and overall["open"] == 0
        assert overall["mtta_seconds"] == pytest.approx(60)


def test_unacknowledged_pages_escalate_and_a_restart_loses_and_repeats_no_delivery(
    live_factory: Callable[..., Live], tmp_path: Path,
) -> None:
    with HttpReceiver() as receiver:
        receiver.answer("ops", 400)  # the opening page refused: dead-lettered with the answer
        # Failing until the worker is dead, however long the kill takes on a busy machine.
        receiver.answer("oncall-1", *[503] * 100)
        live = start(live_factory, tmp_path, receiver, team="search")
        everything, _ = scenario(tmp_path, cut=T0 + 3 * 3600)
        produce(live, everything)
        # Killed while the first escalation's receiver keeps failing, once the failure (and
        # every delivery before it) is stored: the next worker must finish, and repeat nothing.
        wait_for(lambda: "delivery to oncall-1 failed (503), retry 1" in (
            tmp_path / "w1.log").read_text(errors="replace"), 120, live, "the first escalation")
        kill(live, 0)
        assert len(receiver.received("oncall-1", 202)) == 0
        receiver.release("oncall-1")
        live.start_worker("w2")
        wait_for(lambda: len(receiver.received("oncall-1", 202)) >= 2, 120, live,
                 "the deliveries after the restart")
        assert "2 pending deliveries" in (tmp_path / "w2.log").read_text(errors="replace")

        messages = incidents(live)
        escalations = [m for m in messages if m["event"] == "escalated"]
        opened_at = parse_ts(str(messages[0]["opened_at"]))
        assert [(m["escalation_level"], parse_ts(str(m["at"])) - opened_at, m["notify"])
                for m in escalations] == [(1, 180, ["oncall-1"]), (2, 360, ["oncall-2"])]
        assert [m["event"] for m in messages].count("escalated") == 2, "no repeats after restart"

        accepted_once_each(receiver, "ops", "oncall-1", "oncall-2")
        assert [r["body"]["event"] for r in receiver.received("oncall-1", 202)] == [
            "escalated", "resolved"]
        assert [r["body"]["text"].split(":")[0] for r in receiver.received("oncall-2", 202)] == [
            "[P1] ESCALATED", "[P1] RESOLVED"]
        # The route's receiver hears of every change but the escalations (told to theirs).
        ops = receiver.received("ops")
        assert len(ops) == len([m for m in messages if m["event"] != "escalated"])
        assert [r["body"]["status"] for r in ops] == ["firing"] * (len(ops) - 1) + ["resolved"]
        assert receiver.received("ops", 202)[0]["body"]["version"] == "4"

        dead = read(live, live.settings.topics.dead_letter)
        assert len(dead) == 1 and dead[0]["reason"] == "notification refused by ops-hook: HTTP 400"
        assert orjson.loads(str(dead[0]["payload"]))["incident"] == messages[0]["id"]


NOISE_FILE = """apiVersion: sre-streams/v1
defaults: {window: 30d, alerting: mixed, min_events: 1000}
alerting:
  mixed:
    - {name: page-fast, severity: page, long: 1h, short: 5m, budget_percent: 2}
    - {name: page-slow, severity: page, long: 6h, short: 30m, budget_percent: 5}
    - {name: ticket-fast, severity: ticket, long: 1d, short: 2h, budget_percent: 10}
slos:
  - name: checkout-availability
    service: checkout
    objective: 99.9%
    sli: {availability: {bad_status: ["5xx", 429]}}
"""


def test_silences_end_and_tickets_are_inhibited_on_the_real_broker(
    live_factory: Callable[..., Live], tmp_path: Path,
) -> None:
    slos = tmp_path / "slos.yaml"
    slos.write_text(NOISE_FILE)
    live = live_factory(slos, SRE_IDLE_TIMEOUT=REPLAY_IDLE)
    live.start_worker("w1")
    # Silence the service until 30 s into the outage: page-slow fires under it (00:40:20), and
    # is news when it ends; the ticket fires while a page does: inhibited.
    until = OUTAGE + 30
    added = live.cli("silences", "add", "--match", "service=checkout", "--from", format_ts(T0),
                     "--until", format_ts(until), "--by", "alice", "--comment", "maintenance")
    assert added.returncode == 0, added.stderr
    live.cli("produce", "--events", str(scenario(tmp_path, cut=T0 + 3 * 3600)[0]), "--quiet")
    wait_for(lambda: "resolved" in events_of(live), 120, live, "the resolution")

    messages = incidents(live)
    opened = messages[0]
    # The ticket fired first (00:40:10), under the silence; when it ended, page-slow opened
    # the incident and the ticket, inhibited by it, opened nothing.
    assert (opened["event"], opened["opened_at"]) == ("opened", format_ts(until)), opened
    assert [a["rule"] for a in opened["alerts"]] == ["page-slow"]  # type: ignore[union-attr]
    assert len({m["id"] for m in messages}) == 1 and opened["severity"] == "P2"
    assert all(a["rule"] != "ticket-fast" or a.get("suppressed")
               for m in messages for a in m["alerts"])  # type: ignore[attr-defined]

    listed = live.cli("silences", "list", "--all", "--json")
    assert listed.returncode == 0, listed.stderr
    [silence] = [orjson.loads(line) for line in listed.stdout.splitlines()]
    assert silence["match"] == {"service": "checkout"} and silence["until"] == format_ts(until)
    assert live.cli("silences").stdout.strip() == "no silences in force"

    stats = read(live, live.settings.topics.alert_stats)
    for message in stats:
        assert_valid("sre.alert-stats", message)
    latest = {m["rule"]: m for m in stats}
    assert set(latest) == {"page-fast", "page-slow", "ticket-fast"}
    assert all(m["firings"] == 1 and m["flaps"] == 0 for m in latest.values())
    tuned = live.cli("tune", "--live")
    assert tuned.returncode == 0, tuned.stderr
    assert "| checkout-availability | - | page-fast |" in tuned.stdout
