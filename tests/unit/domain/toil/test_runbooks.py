"""Which runbooks run for an incident, once each, within their hourly limit."""

from __future__ import annotations

from streams.domain.incidents.book import IncidentBook
from streams.domain.toil.config import Runbook, RunbookMatch, ToilConfig, WebhookAction
from streams.domain.toil.runbooks import RunbookPlanner, RunbookState, matches, request_body
from tests.unit.conftest import T0, alert

HOOK = WebhookAction("https://jobs.example/run", body={"service": "{service}", "why": ["{rule}"],
                                                       "n": 1})
AUTO = Runbook("restart-consumer", RunbookMatch(slo="checkout-availability", rule="page-fast"),
               HOOK, mode="auto", max_per_hour=2, saves_minutes=20)
SUGGEST = Runbook("scale-out", RunbookMatch(service="checkout"), HOOK, mode="suggest",
                  url="https://runbooks.example/scale-out")
OTHER = Runbook("other", RunbookMatch(slo="search-latency"), HOOK, mode="auto")


def opened(region: str, at: float):  # type: ignore[no-untyped-def]
    book = IncidentBook()
    [event] = book.on_alert(alert("page-fast", "firing", at, series={"region": region}))
    return event


def test_matching_takes_every_given_field() -> None:
    event = opened("eu", T0)
    assert matches(AUTO, event) and matches(SUGGEST, event) and not matches(OTHER, event)
    labelled = Runbook("l", RunbookMatch(labels=(("region", "us"),)), HOOK)
    assert not matches(labelled, event) and matches(labelled, opened("us", T0))
    assert matches(Runbook("s", RunbookMatch(severity="page"), HOOK), event)
    assert matches(Runbook("p", RunbookMatch(severity="P1"), HOOK), event)


def test_an_auto_runbook_runs_once_per_incident_and_suggestions_only_appear() -> None:
    planner = RunbookPlanner(ToilConfig(runbooks=(AUTO, SUGGEST, OTHER)))
    event = opened("eu", T0)
    decision = planner.on_incident(event, T0)
    assert [r.runbook for r in decision.runs] == ["restart-consumer"]
    assert decision.runs[0].key == f"runbook:restart-consumer:{event.id}"
    assert [b.name for b in decision.suggested] == ["scale-out"]
    again = planner.on_incident(event, T0 + 60)  # the same incident opening again (a replay)
    assert again.runs == () and again.held == ()


def test_max_per_hour_holds_over_a_burst_of_incidents_and_a_restart() -> None:
    planner = RunbookPlanner(ToilConfig(runbooks=(AUTO,)))
    ran = []
    for index in range(5):
        decision = planner.on_incident(opened(f"r{index}", T0 + index * 60), T0 + index * 60)
        ran += [r.incident for r in decision.runs]
        assert len(decision.runs) + len(decision.held) == 1
    assert len(ran) == 2
    # restored from its stored state, the limit still counts the runs of the last hour
    state = RunbookState(**{f: getattr(planner.state, f) for f in ("ran_at", "ran_for")})
    restored = RunbookPlanner(ToilConfig(runbooks=(AUTO,)), state)
    assert restored.on_incident(opened("r9", T0 + 1800), T0 + 1800).held == ("restart-consumer",)
    later = restored.on_incident(opened("r10", T0 + 3601), T0 + 3601)
    assert [r.runbook for r in later.runs] == ["restart-consumer"]


def test_the_body_is_filled_in_from_the_incident() -> None:
    event = opened("eu", T0)
    assert request_body(HOOK.body, event) == {"service": "checkout", "why": ["page-fast"], "n": 1}
