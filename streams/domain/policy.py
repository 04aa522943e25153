"""Error-budget policy: each service's state (ok, warn, frozen), deploys against it, overrides.

A service's state follows from the latest budget snapshot of every series of its SLOs: the
worst one decides. `frozen` when a budget remaining is at or below the SLO's `freeze_below`,
`warn` when below `warn_below`. Changes of state are published (`sre.policy`) with the reason;
a deploy while frozen, without an exception class or a valid override, is a violation. The
deploy gate answers from the same state. Pure: time is given by the caller.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Literal

import msgspec
import orjson
from msgspec import UNSET, UnsetType

from streams.domain.durations import format_duration
from streams.domain.slo.model import BudgetPolicy, SloFile
from streams.domain.stored import StoredState
from streams.domain.timestamps import format_ts, parse_ts
from streams.wire.budgets import BudgetSnapshot
from streams.wire.commands import Deploy
from streams.wire.policy import Override, PolicyEvent, PolicyState

STATES: tuple[PolicyState, ...] = ("ok", "warn", "frozen")
Decision = Literal["allow", "warn", "deny"]
DECISIONS: dict[PolicyState, Decision] = {"ok": "allow", "warn": "warn", "frozen": "deny"}
_STATE: dict[str, PolicyState] = {state: state for state in STATES}
OVERRIDE_FIELDS = frozenset({"change_class", "approver", "reason", "expires_at"})


class PolicyError(ValueError):
    """A request the policy cannot take (a bad override); the message names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class SloRow(msgspec.Struct, frozen=True, kw_only=True):
    """One series of the service in the gate's answer."""

    name: str
    series: dict[str, str]
    error_budget_remaining: float
    burn_rate_1h: float | None
    at: str
    period_start: str | UnsetType = UNSET  # calendar periods only
    period_end: str | UnsetType = UNSET


class Gate(msgspec.Struct, frozen=True, kw_only=True):
    """The deploy gate's answer for a service."""

    service: str
    allowed: bool
    decision: Decision
    state: PolicyState
    reason: str
    slos: list[SloRow]
    override: Override | None
    evaluated_at: str


class StoredPolicy(msgspec.Struct, kw_only=True):
    """Service states and overrides as stored (budgets are stored per series)."""

    states: dict[str, PolicyState] = {}
    overrides: dict[str, list[Override]] = {}


def series_key(slo: str, series: Mapping[str, str]) -> str:
    return orjson.dumps([slo, series], option=orjson.OPT_SORT_KEYS).decode()


class PolicyBook:
    """Budgets of every series, the state of every service, overrides; events on change."""

    def __init__(self, slo_file: SloFile) -> None:
        self.slos = {slo.name: slo for slo in slo_file.slos}
        self.services = sorted({slo.service for slo in slo_file.slos})
        self.budgets: dict[str, BudgetSnapshot] = {}  # series key -> latest budget snapshot
        self.states: dict[str, PolicyState] = {}  # service -> state (absent: ok)
        self.overrides: dict[str, list[Override]] = {}  # service -> overrides
        # Indexes of the budgets, so a snapshot costs the same with 10 series or 10,000:
        self._by_service: dict[str, dict[str, BudgetSnapshot]] = {}  # service -> key -> snapshot
        self._counts: dict[str, list[int]] = {}  # service -> series per state (as in STATES)

    # -- inputs ----------------------------------------------------------------------------

    def on_budget(self, snapshot: BudgetSnapshot, key: str | None = None,
                  at: float | None = None) -> list[PolicyEvent]:
        """Record a budget snapshot; returns a state-change event when the service's changes.
        `key` and `at`: its `series_key` and parsed `at`, where the caller has them."""
        slo = self.slos.get(snapshot.slo)
        if slo is None:
            return []  # an SLO since removed from the file
        if set(snapshot.series) != set(slo.group_by):
            raise ValueError(f"series {snapshot.series!r} does not match the group_by of "
                             f"{slo.name}")
        if not math.isfinite(snapshot.error_budget_remaining):
            raise ValueError(f"error_budget_remaining must be a number, got "
                             f"{snapshot.error_budget_remaining!r}")
        key = series_key(slo.name, snapshot.series) if key is None else key
        at = parse_ts(snapshot.at) if at is None else at
        previous = self.budgets.get(key)
        if previous is not None and parse_ts(previous.at) > at:
            return []  # older than what is known (a repeat after a restart)
        self._put(key, snapshot)
        return self._restate(slo.service, at)

    def on_deploy(self, deploy: Deploy) -> list[PolicyEvent]:
        """A deploy while frozen, without an exception class or a valid override: a violation."""
        service = deploy.service
        at = parse_ts(deploy.ts)
        if self.states.get(service, "ok") != "frozen":
            return []
        change_class = None if deploy.change_class is UNSET else deploy.change_class
        if change_class in self.policy_of(service).exceptions:
            return []
        if self.override(service, at, change_class) is not None:
            return []
        worst = self._worst(service)
        version = "" if deploy.version is UNSET else deploy.version
        return [_caused(PolicyEvent(
            event="violation", service=service, state="frozen", at=format_ts(at),
            reason=f"deploy of {service} {version} during a freeze "
                   f"({self._why(worst)})".replace("  ", " "),
            deploy=deploy), worst)]

    def add_override(self, service: str, body: object, now: float, *,
                     max_duration: float | None = None) -> PolicyEvent:
        """Validate and store an override (a request's JSON body); returns its audit event.
        Raises PolicyError naming the field at fault; one lasting past `max_duration` from
        now (seconds) is refused."""
        if service not in self.services:
            raise KeyError(service)
        if not isinstance(body, dict):
            raise PolicyError("body", "must be a JSON object")
        unknown = sorted(set(body) - OVERRIDE_FIELDS)
        if unknown:
            raise PolicyError(unknown[0], "unknown field")
        text: dict[str, str] = {}
        for name in ("approver", "reason", "expires_at"):
            value = body.get(name)
            if not isinstance(value, str) or not value.strip():
                raise PolicyError(name, "required, a non-empty string")
            text[name] = value
        change_class = body.get("change_class")
        if change_class is not None and (not isinstance(change_class, str) or not change_class):
            raise PolicyError("change_class", "must be a non-empty string or absent (any class)")
        try:
            expires = parse_ts(text["expires_at"])
        except (ValueError, TypeError) as exc:
            raise PolicyError("expires_at", f"not a timestamp: {exc}") from None
        if not math.isfinite(expires) or expires <= now:
            raise PolicyError("expires_at", "must be in the future")
        if max_duration is not None and expires - now > max_duration:
            raise PolicyError("expires_at", f"must be at most {format_duration(max_duration)} "
                                            "from now (SRE_OVERRIDE_MAX)")
        override = Override(service=service, change_class=change_class,
                            approver=text["approver"], reason=text["reason"],
                            created_at=format_ts(now), expires_at=format_ts(expires))
        kept = [o for o in self.overrides.get(service, []) if parse_ts(o.expires_at) > now]
        self.overrides[service] = [*kept, override]
        return PolicyEvent(
            event="override", service=service, state=self.states.get(service, "ok"),
            at=format_ts(now), override=override,
            reason=f"override by {override.approver} until {override.expires_at}: "
                   f"{override.reason}")

    # -- questions -------------------------------------------------------------------------

    def policy_of(self, service: str) -> BudgetPolicy:
        """The strictest policy among the service's SLOs decides exceptions."""
        policies = [slo.budget_policy for slo in self.slos.values() if slo.service == service]
        if not policies:
            return BudgetPolicy()
        common = set(policies[0].exceptions).intersection(*(p.exceptions for p in policies[1:]))
        return BudgetPolicy(exceptions=tuple(sorted(common)))

    def override(self, service: str, at: float,
                 change_class: str | None = None) -> Override | None:
        """The override in force at `at` for this change class (None: for any class)."""
        found: Override | None = None
        for override in self.overrides.get(service, []):
            if (parse_ts(override.created_at) <= at < parse_ts(override.expires_at)
                    and override.change_class in (None, change_class)):
                found = override  # the latest one in force
        return found

    def gate(self, service: str, now: float, change_class: str | None = None) -> Gate:
        """The deploy gate's answer for a service (KeyError for an unknown one)."""
        if service not in self.services:
            raise KeyError(service)
        state = self.states.get(service, "ok")
        decision = DECISIONS[state]
        worst = self._worst(service)
        reason = ("every SLO within its budget policy" if state == "ok"
                  else f"{state}: {self._why(worst)}")
        override = self.override(service, now, change_class)  # shown in any state
        if state == "frozen":
            if change_class is not None and change_class in self.policy_of(service).exceptions:
                decision, reason = "allow", f"change class {change_class} is exempt from freezes ({reason})"
            elif override is not None:
                decision = "allow"
                reason = (f"override by {override.approver} until {override.expires_at}: "
                          f"{override.reason} ({reason})")
        return Gate(service=service, allowed=decision != "deny", decision=decision, state=state,
                    reason=reason, slos=self.slo_rows(service), override=override,
                    evaluated_at=format_ts(now))

    def slo_rows(self, service: str) -> list[SloRow]:
        return [SloRow(name=b.slo, series=b.series, error_budget_remaining=b.error_budget_remaining,
                       burn_rate_1h=b.burn_rates.get("1h"), at=b.at, period_start=b.period_start,
                       period_end=b.period_end)
                for b in self.series_of(service)]

    def series_of(self, service: str) -> list[BudgetSnapshot]:
        return [b for _, b in sorted(self._by_service.get(service, {}).items())]

    # -- state -----------------------------------------------------------------------------

    def export(self) -> StoredState:
        """Service states and overrides (budgets are stored per series, see `budgets`)."""
        exported = msgspec.to_builtins(StoredPolicy(states=self.states, overrides=self.overrides))
        assert isinstance(exported, dict)
        return exported

    def restore(self, meta: object, budgets: Iterable[object]) -> None:
        stored = msgspec.convert(meta, StoredPolicy)
        self.states = dict(stored.states)
        self.overrides = {k: list(v) for k, v in stored.overrides.items()}
        self.budgets, self._by_service, self._counts = {}, {}, {}
        for value in budgets:
            snapshot = msgspec.convert(value, BudgetSnapshot)
            if snapshot.slo in self.slos:
                self._put(series_key(snapshot.slo, snapshot.series), snapshot)

    # -- internals -------------------------------------------------------------------------

    def _put(self, key: str, snapshot: BudgetSnapshot) -> None:
        """Store a series' latest snapshot, keeping the indexes."""
        slo = self.slos[snapshot.slo]  # (the key names it: a previous one is of it too)
        counts = self._counts.setdefault(slo.service, [0] * len(STATES))
        previous = self.budgets.get(key)
        for change, stored in ((-1, previous), (1, snapshot)):
            if stored is not None:
                state = _judged(slo.budget_policy, stored.error_budget_remaining)
                counts[STATES.index(state)] += change
        self.budgets[key] = snapshot
        self._by_service.setdefault(slo.service, {})[key] = snapshot

    def _restate(self, service: str, at: float) -> list[PolicyEvent]:
        counts = self._counts.get(service, [])
        state: PolicyState = max((STATES[n] for n, count in enumerate(counts) if count),
                                 key=STATES.index, default="ok")
        previous = self.states.get(service, "ok")
        if state == previous:
            return []
        worst = self._worst(service)
        self.states[service] = state
        return [_caused(PolicyEvent(
            event="state", service=service, state=state, previous=previous, at=format_ts(at),
            reason=("every SLO within its budget policy" if worst is None or state == "ok"
                    else self._why(worst))), worst)]

    def _worst(self, service: str) -> BudgetSnapshot | None:
        """The series whose state is the worst (then the lowest budget remaining)."""
        def rank(snapshot: BudgetSnapshot) -> tuple[int, float]:
            remaining = snapshot.error_budget_remaining
            state = _judged(self.slos[snapshot.slo].budget_policy, remaining)
            return (-STATES.index(state), remaining)

        candidates = self.series_of(service)
        return min(candidates, key=rank) if candidates else None

    def _why(self, worst: BudgetSnapshot | None) -> str:
        if worst is None:
            return "no budget known yet"
        policy = self.slos[worst.slo].budget_policy
        where = ",".join(f"{k}={v}" for k, v in worst.series.items())
        return (f"SLO {worst.slo}{'{' + where + '}' if where else ''} has "
                f"{100 * worst.error_budget_remaining:.1f}% of its error budget left "
                f"(warn below {100 * policy.warn_below:g}%, freeze at or below "
                f"{100 * policy.freeze_below:g}%)")


def _judged(policy: BudgetPolicy, remaining: float) -> PolicyState:
    return _STATE[policy.state(remaining)]


def _caused(event: PolicyEvent, worst: BudgetSnapshot | None) -> PolicyEvent:
    """The event naming the series that decided (`slo`, `series`, `error_budget_remaining`)."""
    if worst is None:
        return event
    return msgspec.structs.replace(event, slo=worst.slo, series=worst.series,
                                   error_budget_remaining=worst.error_budget_remaining,
                                   period_start=worst.period_start, period_end=worst.period_end)
