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
from typing import Any

import orjson

from streams.domain.slo.model import BudgetPolicy, SloFile
from streams.domain.timestamps import format_ts, parse_ts

STATES = ("ok", "warn", "frozen")
DECISIONS = {"ok": "allow", "warn": "warn", "frozen": "deny"}


class PolicyError(ValueError):
    """A request the policy cannot take (a bad override); the message names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def series_key(slo: str, series: Mapping[str, object]) -> str:
    return orjson.dumps([slo, series], option=orjson.OPT_SORT_KEYS).decode()


class PolicyBook:
    """Budgets of every series, the state of every service, overrides; events on change."""

    def __init__(self, slo_file: SloFile) -> None:
        self.slos = {slo.name: slo for slo in slo_file.slos}
        self.services = sorted({slo.service for slo in slo_file.slos})
        self.budgets: dict[str, dict[str, Any]] = {}  # series key -> latest budget snapshot
        self.states: dict[str, str] = {}  # service -> state (absent: ok)
        self.overrides: dict[str, list[dict[str, Any]]] = {}  # service -> overrides
        # Indexes of the budgets, so a snapshot costs the same with 10 series or 10,000:
        self._by_service: dict[str, dict[str, dict[str, Any]]] = {}  # service -> key -> snapshot
        self._counts: dict[str, list[int]] = {}  # service -> series per state (as in STATES)

    # -- inputs ----------------------------------------------------------------------------

    def on_budget(self, snapshot: Mapping[str, Any]) -> list[dict[str, object]]:
        """Record a budget snapshot; returns a state-change event when the service's changes."""
        slo = self.slos.get(str(snapshot["slo"]))
        if slo is None:
            return []  # an SLO since removed from the file
        series = snapshot.get("series") or {}
        if not isinstance(series, Mapping) or set(series) != set(slo.group_by):
            raise ValueError(f"series {series!r} does not match the group_by of {slo.name}")
        remaining = snapshot.get("error_budget_remaining")
        if isinstance(remaining, bool) or not isinstance(remaining, int | float) or not math.isfinite(
                remaining):
            raise ValueError(f"error_budget_remaining must be a number, got {remaining!r}")
        key = series_key(slo.name, series)
        previous = self.budgets.get(key)
        if previous is not None and parse_ts(previous["at"]) > parse_ts(snapshot["at"]):
            return []  # older than what is known (a repeat after a restart)
        self._put(key, dict(snapshot))
        return self._restate(slo.service, parse_ts(snapshot["at"]))

    def on_deploy(self, deploy: Mapping[str, Any]) -> list[dict[str, object]]:
        """A deploy while frozen, without an exception class or a valid override: a violation."""
        service = str(deploy["service"])
        at = parse_ts(deploy["ts"])
        if self.states.get(service, "ok") != "frozen":
            return []
        change_class = deploy.get("change_class")
        if change_class in self.policy_of(service).exceptions:
            return []
        if self.override(service, at, change_class) is not None:
            return []
        worst = self._worst(service)
        return [{"kind": "policy", "version": 1, "event": "violation", "service": service,
                 "state": "frozen", "at": format_ts(at),
                 "reason": f"deploy of {service} {deploy.get('version', '')} during a freeze "
                           f"({self._why(worst)})".replace("  ", " "),
                 "deploy": dict(deploy), **self._cause(worst)}]

    def add_override(self, service: str, body: Mapping[str, Any], now: float) -> dict[str, object]:
        """Validate and store an override; returns its audit event. Raises PolicyError."""
        if service not in self.services:
            raise KeyError(service)
        if not isinstance(body, Mapping):
            raise PolicyError("body", "must be a JSON object")
        unknown = sorted(set(body) - {"change_class", "approver", "reason", "expires_at"})
        if unknown:
            raise PolicyError(unknown[0], "unknown field")
        for name in ("approver", "reason", "expires_at"):
            value = body.get(name)
            if not isinstance(value, str) or not value.strip():
                raise PolicyError(name, "required, a non-empty string")
        change_class = body.get("change_class")
        if change_class is not None and (not isinstance(change_class, str) or not change_class):
            raise PolicyError("change_class", "must be a non-empty string or absent (any class)")
        try:
            expires = parse_ts(body["expires_at"])
        except (ValueError, TypeError) as exc:
            raise PolicyError("expires_at", f"not a timestamp: {exc}") from None
        if not math.isfinite(expires) or expires <= now:
            raise PolicyError("expires_at", "must be in the future")
        override = {"service": service, "change_class": change_class,
                    "approver": body["approver"], "reason": body["reason"],
                    "created_at": format_ts(now), "expires_at": format_ts(expires)}
        kept = [o for o in self.overrides.get(service, []) if parse_ts(o["expires_at"]) > now]
        self.overrides[service] = [*kept, override]
        return {"kind": "policy", "version": 1, "event": "override", "service": service,
                "state": self.states.get(service, "ok"), "at": format_ts(now),
                "reason": f"override by {override['approver']} until {override['expires_at']}: "
                          f"{override['reason']}", "override": override}

    # -- questions -------------------------------------------------------------------------

    def policy_of(self, service: str) -> BudgetPolicy:
        """The strictest policy among the service's SLOs decides exceptions."""
        policies = [slo.budget_policy for slo in self.slos.values() if slo.service == service]
        if not policies:
            return BudgetPolicy()
        common = set(policies[0].exceptions).intersection(*(p.exceptions for p in policies[1:]))
        return BudgetPolicy(exceptions=tuple(sorted(common)))

    def override(self, service: str, at: float,
                 change_class: object = None) -> dict[str, Any] | None:
        """The override in force at `at` for this change class (None: for any class)."""
        found: dict[str, Any] | None = None
        for override in self.overrides.get(service, []):
            if (parse_ts(override["created_at"]) <= at < parse_ts(override["expires_at"])
                    and override["change_class"] in (None, change_class)):
                found = override  # the latest one in force
        return found

    def gate(self, service: str, now: float, change_class: str | None = None) -> dict[str, object]:
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
                reason = (f"override by {override['approver']} until {override['expires_at']}: "
                          f"{override['reason']} ({reason})")
        return {"service": service, "allowed": decision != "deny", "decision": decision,
                "state": state, "reason": reason, "slos": self.slo_rows(service),
                "override": override, "evaluated_at": format_ts(now)}

    def slo_rows(self, service: str) -> list[dict[str, object]]:
        rows = []
        for snapshot in self.series_of(service):
            rows.append({"name": snapshot["slo"], "series": snapshot.get("series") or {},
                         "error_budget_remaining": snapshot["error_budget_remaining"],
                         "burn_rate_1h": (snapshot.get("burn_rates") or {}).get("1h"),
                         "at": snapshot["at"]})
        return rows

    def series_of(self, service: str) -> list[dict[str, Any]]:
        return [b for _, b in sorted(self._by_service.get(service, {}).items())]

    # -- state -----------------------------------------------------------------------------

    def export(self) -> dict[str, object]:
        """Service states and overrides (budgets are stored per series, see `budgets`)."""
        return {"states": self.states, "overrides": self.overrides}

    def restore(self, meta: Mapping[str, Any], budgets: Iterable[Mapping[str, Any]]) -> None:
        self.states = {str(k): str(v) for k, v in (meta.get("states") or {}).items()}
        self.overrides = {str(k): list(v) for k, v in (meta.get("overrides") or {}).items()}
        self.budgets, self._by_service, self._counts = {}, {}, {}
        for snapshot in budgets:
            if str(snapshot["slo"]) in self.slos:
                self._put(series_key(str(snapshot["slo"]), snapshot.get("series") or {}),
                          dict(snapshot))

    # -- internals -------------------------------------------------------------------------

    def _put(self, key: str, snapshot: dict[str, Any]) -> None:
        """Store a series' latest snapshot, keeping the indexes."""
        slo = self.slos[str(snapshot["slo"])]  # (the key names it: a previous one is of it too)
        counts = self._counts.setdefault(slo.service, [0] * len(STATES))
        previous = self.budgets.get(key)
        for change, stored in ((-1, previous), (1, snapshot)):
            if stored is not None:
                state = slo.budget_policy.state(float(stored["error_budget_remaining"]))
                counts[STATES.index(state)] += change
        self.budgets[key] = snapshot
        self._by_service.setdefault(slo.service, {})[key] = snapshot

    def _restate(self, service: str, at: float) -> list[dict[str, object]]:
        counts = self._counts.get(service, [])
        state = max((STATES[n] for n, count in enumerate(counts) if count), key=STATES.index,
                    default="ok")
        previous = self.states.get(service, "ok")
        if state == previous:
            return []
        worst = self._worst(service)
        self.states[service] = state
        return [{"kind": "policy", "version": 1, "event": "state", "service": service,
                 "state": state, "previous": previous, "at": format_ts(at),
                 "reason": ("every SLO within its budget policy" if worst is None or state == "ok"
                            else self._why(worst)), **self._cause(worst)}]

    def _worst(self, service: str) -> dict[str, Any] | None:
        """The series whose state is the worst (then the lowest budget remaining)."""
        def rank(snapshot: Mapping[str, Any]) -> tuple[int, float]:
            remaining = float(snapshot["error_budget_remaining"])
            state = self.slos[snapshot["slo"]].budget_policy.state(remaining)
            return (-STATES.index(state), remaining)

        candidates = self.series_of(service)
        return min(candidates, key=rank) if candidates else None

    def _why(self, worst: Mapping[str, Any] | None) -> str:
        if worst is None:
            return "no budget known yet"
        policy = self.slos[worst["slo"]].budget_policy
        where = ",".join(f"{k}={v}" for k, v in (worst.get("series") or {}).items())
        return (f"SLO {worst['slo']}{'{' + where + '}' if where else ''} has "
                f"{100 * float(worst['error_budget_remaining']):.1f}% of its error budget left "
                f"(warn below {100 * policy.warn_below:g}%, freeze at or below "
                f"{100 * policy.freeze_below:g}%)")

    @staticmethod
    def _cause(worst: Mapping[str, Any] | None) -> dict[str, object]:
        if worst is None:
            return {}
        return {"slo": worst["slo"], "series": worst.get("series") or {},
                "error_budget_remaining": worst["error_budget_remaining"]}
