"""Error-budget policy: service states from budgets, deploy violations, overrides, the gate."""

from __future__ import annotations

import random

import msgspec
import pytest
from msgspec.structs import replace

from streams.domain.policy import PolicyBook, PolicyError
from streams.domain.slo.loader import SloFileError, parse_slo_text
from streams.domain.slo.model import BudgetPolicy
from streams.domain.timestamps import format_ts, parse_ts
from streams.wire.budgets import BudgetSnapshot
from streams.wire.codec import convert
from streams.wire.commands import Deploy

T0 = parse_ts("2026-11-23T00:00:00Z")

FILE = """apiVersion: sre-streams/v1
defaults:
  policy: {warn_below: 0.25, freeze_below: 0.0, exceptions: [P0, security]}
slos:
  - name: checkout-availability
    service: checkout
    objective: 0.999
    sli: {availability: {}}
    group_by: [region]
  - name: checkout-latency
    service: checkout
    objective: 0.99
    sli: {latency: {threshold_ms: 300}}
    policy: {warn_below: 0.5, exceptions: [P0]}
  - name: search-availability
    service: search
    objective: 0.99
    sli: {availability: {}}
"""


def budget_fields(slo: str, remaining: float, at: float, **series: str) -> dict[str, object]:
    return {"kind": "budget", "version": 1, "slo": slo, "service": slo.split("-")[0],
            "series": series, "at": format_ts(at), "objective": 0.999, "window": "30d",
            "good": 990, "total": 1000, "sli": 0.99, "error_budget_remaining": remaining,
            "burn_rates": {"1h": 2.0, "5m": 3.0}, "firing": [], "labels": {}}


def budget(slo: str, remaining: float, at: float, **series: str) -> BudgetSnapshot:
    return convert(budget_fields(slo, remaining, at, **series), BudgetSnapshot, "budget")


def book() -> PolicyBook:
    return PolicyBook(parse_slo_text(FILE))


def test_policies_come_from_defaults_and_each_slo_may_override_them() -> None:
    slos = {slo.name: slo.budget_policy for slo in parse_slo_text(FILE).slos}
    assert slos["checkout-availability"] == BudgetPolicy(0.25, 0.0, ("P0", "security"))
    assert slos["checkout-latency"] == BudgetPolicy(0.5, 0.0, ("P0",))


def test_bad_policies_are_reported_with_their_paths() -> None:
    text = FILE.replace("policy: {warn_below: 0.5, exceptions: [P0]}",
                        "policy: {warn_below: 2, freeze_below: 0.1, exceptions: P0, typo: 1}")
    with pytest.raises(SloFileError) as caught:
        parse_slo_text(text)
    lines = "\n".join(caught.value.problems)
    for path in ("slos[1].policy.warn_below", "slos[1].policy.exceptions", "slos[1].policy.typo"):
        assert path in lines, lines


def test_the_worst_series_decides_the_state_and_changes_are_events_with_a_reason() -> None:
    policies = book()
    assert policies.on_budget(budget("checkout-availability", 0.9, T0, region="eu")) == []
    [warn] = policies.on_budget(budget("checkout-latency", 0.4, T0 + 60))  # below its own 0.5
    assert (warn.event, warn.state, warn.previous, warn.slo) == (
        "state", "warn", "ok", "checkout-latency")
    assert "40.0% of its error budget left" in str(warn.reason)
    assert policies.on_budget(budget("checkout-availability", 0.3, T0 + 60, region="us")) == []
    [frozen] = policies.on_budget(budget("checkout-availability", -0.1, T0 + 120, region="us"))
    assert (frozen.state, frozen.series) == ("frozen", {"region": "us"})
    assert policies.on_budget(budget("search-availability", -5, T0 + 120))[0].service == "search"
    [recovered] = policies.on_budget(budget("checkout-availability", 0.8, T0 + 180, region="us"))
    assert (recovered.state, recovered.previous) == ("warn", "frozen")  # latency still warns
    assert policies.on_budget(budget("checkout-availability", -1, T0 + 30, region="us")) == [], \
        "an older snapshot (a repeat) changes nothing"


def test_a_deploy_during_a_freeze_is_a_violation_unless_exempt_or_overridden() -> None:
    policies = book()
    deploy = Deploy(ts=format_ts(T0 + 200), service="checkout", version="v42")
    assert policies.on_deploy(deploy) == [], "not frozen"
    policies.on_budget(budget("checkout-availability", -0.2, T0 + 100, region="eu"))
    [violation] = policies.on_deploy(deploy)
    assert violation.event == "violation" and violation.deploy == deploy
    assert "during a freeze" in str(violation.reason)
    # Exempt only when every SLO of the service exempts the class: latency does not list it.
    assert policies.on_deploy(replace(deploy, change_class="security")) != []
    assert policies.on_deploy(replace(deploy, change_class="P0")) == []
    policies.add_override("checkout", {"approver": "vp", "reason": "hotfix",
                                       "expires_at": format_ts(T0 + 400)}, now=T0 + 150)
    assert policies.on_deploy(deploy) == []
    assert policies.on_deploy(replace(deploy, ts=format_ts(T0 + 400))) != [], "expired"


def test_the_gate_follows_the_state_and_an_override_until_it_expires() -> None:
    policies = book()
    gate = policies.gate("checkout", T0)
    assert (gate.allowed, gate.decision, gate.override) == (True, "allow", None)
    policies.on_budget(budget("checkout-availability", 0.2, T0, region="eu"))
    assert policies.gate("checkout", T0).decision == "warn"
    policies.on_budget(budget("checkout-availability", 0.0, T0 + 60, region="eu"))
    denied = policies.gate("checkout", T0 + 60)
    assert (denied.allowed, denied.decision) == (False, "deny")
    assert msgspec.to_builtins(denied.slos) == [{"name": "checkout-availability", "series": {"region": "eu"},
                               "error_budget_remaining": 0.0, "burn_rate_1h": 2.0,
                               "at": format_ts(T0 + 60)}]
    event = policies.add_override("checkout", {"change_class": "standard", "approver": "vp",
                                               "reason": "launch", "expires_at": format_ts(T0 + 600)},
                                  now=T0 + 60)
    assert event.event == "override" and "launch" in str(event.reason)
    assert policies.gate("checkout", T0 + 61).decision == "deny", "another change class"
    allowed = policies.gate("checkout", T0 + 61, "standard")
    assert allowed.allowed and allowed.override is not None and allowed.override.approver == "vp"
    assert not policies.gate("checkout", T0 + 600, "standard").allowed, "expired"
    with pytest.raises(KeyError):
        policies.gate("nope", T0)


@pytest.mark.parametrize(("body", "field"), [
    ({"reason": "x", "expires_at": "2026-11-24T00:00:00Z"}, "approver"),
    ({"approver": "a", "reason": "x", "expires_at": "tomorrow"}, "expires_at"),
    ({"approver": "a", "reason": "x", "expires_at": "2026-11-22T00:00:00Z"}, "expires_at"),
    ({"approver": "a", "reason": "x", "expires_at": "2026-11-24T00:00:00Z", "who": 1}, "who"),
    ({"approver": "a", "reason": "", "expires_at": "2026-11-24T00:00:00Z"}, "reason"),
    ({"approver": "a", "reason": "x", "expires_at": "2026-11-24T00:00:00Z",
      "change_class": 5}, "change_class"),
])
def test_bad_overrides_name_the_offending_field(body: dict[str, object], field: str) -> None:
    with pytest.raises(PolicyError) as caught:
        book().add_override("checkout", body, now=T0)
    assert caught.value.field == field


def test_state_and_budgets_survive_export_and_restore() -> None:
    policies = book()
    policies.on_budget(budget("checkout-availability", -0.2, T0, region="eu"))
    policies.add_override("checkout", {"approver": "vp", "reason": "fix",
                                       "expires_at": format_ts(T0 + 600)}, now=T0)
    copy = book()
    copy.restore(policies.export(), policies.budgets.values())
    assert copy.gate("checkout", T0 + 1) == policies.gate("checkout", T0 + 1)
    assert copy.on_budget(budget("checkout-availability", -0.3, T0 + 60, region="eu")) == []


@pytest.mark.parametrize("bad", [{"series": {"zone": "1"}}, {"error_budget_remaining": "lots"},
                                 {"error_budget_remaining": float("nan")}])
def test_a_malformed_budget_is_refused_and_changes_nothing(bad: dict[str, object]) -> None:
    policies = book()
    policies.on_budget(budget("checkout-availability", 0.9, T0, region="eu"))
    with pytest.raises(ValueError):
        policies.on_budget(convert({**budget_fields("checkout-availability", -1.0, T0 + 60,
                                                    region="eu"), **bad}, BudgetSnapshot, "budget"))
    assert policies.gate("checkout", T0 + 60).decision == "allow"


def test_the_state_kept_per_snapshot_is_the_state_of_the_worst_series() -> None:
    """The per-service indexes (so a snapshot costs the same with many series) agree with
    judging every series again, after any sequence of snapshots, and after a restore."""
    rnd = random.Random(5)
    policies = book()
    slos = {slo.name: slo for slo in parse_slo_text(FILE).slos}
    keys = [("checkout-availability", {"region": r}) for r in ("eu", "us", "ap")] + [
        ("checkout-latency", {}), ("search-availability", {})]
    for n in range(600):
        slo, series = rnd.choice(keys)
        policies.on_budget(budget(slo, rnd.choice([-0.1, 0.0, 0.2, 0.3, 0.45, 0.7, 1.0]),
                                  T0 + n, **series))
        for service in ("checkout", "search"):
            judged = [slos[b.slo].budget_policy.state(b.error_budget_remaining)
                      for b in policies.budgets.values() if b.service == service]
            worst = max(judged, key=("ok", "warn", "frozen").index, default="ok")
            assert policies.states.get(service, "ok") == worst, (n, service)
    copy = book()
    copy.restore(policies.export(), policies.budgets.values())
    for slo, series in keys:  # one more snapshot each: same events from both
        snapshot = budget(slo, rnd.uniform(-0.2, 1.0), T0 + 1000, **series)
        assert copy.on_budget(snapshot) == policies.on_budget(snapshot)
    assert copy.series_of("checkout") == policies.series_of("checkout")


def test_an_override_may_last_at_most_the_configured_maximum() -> None:
    body = {"approver": "a", "reason": "x", "expires_at": format_ts(T0 + 7 * 86400)}
    assert book().add_override("checkout", body, now=T0, max_duration=7 * 86400).event == "override"
    too_long = {**body, "expires_at": "9999-12-31T00:00:00Z"}
    with pytest.raises(PolicyError, match=r"at most 1w from now") as caught:
        book().add_override("checkout", too_long, now=T0, max_duration=7 * 86400)
    assert caught.value.field == "expires_at"
