"""The SLO model: objectives, SLIs and alert policies, as parsed from an SLO file (contracts §3)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from streams.domain.capacity.model import CapacityPlan
from streams.domain.durations import format_duration
from streams.domain.incidents.book import IncidentPolicy
from streams.domain.notify.receivers import NotifyConfig
from streams.domain.slo.calendar import Calendar
from streams.domain.toil.config import ToilConfig


class Severity(StrEnum):
    PAGE = "page"
    TICKET = "ticket"


@dataclass(frozen=True, slots=True)
class AlertRule:
    """One multiwindow burn-rate rule: fires when both windows burn at `factor` or faster."""

    name: str
    severity: Severity
    long: float
    short: float
    budget_percent: float
    # Hysteresis (off by default, so contract §4 holds as written): once firing, the rule
    # resolves only when a window (long or short) drops below `resolve_below` x factor, and
    # only after that has held for `keep_firing_for` seconds.
    resolve_below: float | None = None
    keep_firing_for: float = 0.0
    # A minimum firing time (off by default): the rule fires only once both windows have
    # burnt at the factor for `alert_after` seconds without a break.
    alert_after: float = 0.0

    def factor(self, period: float) -> float:
        """Burn-rate threshold: the rate that spends `budget_percent` of the budget in `long`."""
        return self.budget_percent / 100.0 * period / self.long

    @property
    def long_label(self) -> str:
        return format_duration(self.long)

    @property
    def short_label(self) -> str:
        return format_duration(self.short)


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    name: str
    rules: tuple[AlertRule, ...]


def _rule(name: str, severity: Severity, long: float, short: float, percent: float) -> AlertRule:
    return AlertRule(name, severity, long, short, percent)


HOUR = 3600.0
DAY = 86400.0

# The SRE Workbook's recommended multiwindow, multi-burn-rate policy for a 30-day budget.
MULTIWINDOW = AlertPolicy(
    "multiwindow",
    (
        _rule("page-fast", Severity.PAGE, 1 * HOUR, 5 * 60.0, 2),
        _rule("page-slow", Severity.PAGE, 6 * HOUR, 30 * 60.0, 5),
        _rule("ticket-fast", Severity.TICKET, 1 * DAY, 2 * HOUR, 10),
        _rule("ticket-slow", Severity.TICKET, 3 * DAY, 6 * HOUR, 10),
    ),
)
BUILTIN_POLICIES: dict[str, AlertPolicy] = {MULTIWINDOW.name: MULTIWINDOW}


@dataclass(frozen=True, slots=True)
class AvailabilitySli:
    """Good = status not listed as bad (by class like 5xx, or by exact code)."""

    bad_classes: frozenset[int] = frozenset({5})
    bad_codes: frozenset[int] = frozenset()

    def is_bad(self, status: int) -> bool:
        return status // 100 in self.bad_classes or status in self.bad_codes


@dataclass(frozen=True, slots=True)
class LatencySli:
    """Good = `latency_ms <= threshold_ms`."""

    threshold_ms: float


Sli = AvailabilitySli | LatencySli


@dataclass(frozen=True, slots=True)
class BudgetPolicy:
    """The `policy` of an SLO (or of `defaults`)."""

    warn_below: float = 0.25
    freeze_below: float = 0.0
    exceptions: tuple[str, ...] = ("P0", "security")  # change classes a freeze lets through

    def state(self, remaining: float) -> str:
        if remaining <= self.freeze_below:
            return "frozen"
        return "warn" if remaining < self.warn_below else "ok"


@dataclass(frozen=True, slots=True)
class Slo:
    name: str
    service: str
    objective: float
    sli: Sli
    window: float
    policy: AlertPolicy
    min_events: int = 0
    match: tuple[tuple[str, object], ...] = ()
    group_by: tuple[str, ...] = ()
    max_series: int = 1000
    labels: tuple[tuple[str, str], ...] = ()
    runbook_url: str | None = None
    budget_policy: BudgetPolicy = BudgetPolicy()
    # A calendar period (the budget resets at each start); `window` is then its nominal
    # length, from which burn-rate factors are computed.
    calendar: Calendar | None = None

    @property
    def window_label(self) -> str:
        return format_duration(self.window) if self.calendar is None else self.calendar.label

    def windows(self) -> tuple[float, ...]:
        """Every window length the SLO reads: the rules' long and short windows and the
        rolling period (a calendar period is counted apart)."""
        lengths = {self.window} if self.calendar is None else set()
        for rule in self.policy.rules:
            lengths.add(rule.long)
            lengths.add(rule.short)
        return tuple(sorted(lengths))


@dataclass(frozen=True, slots=True)
class SloFile:
    slos: tuple[Slo, ...]
    policies: dict[str, AlertPolicy] = field(default_factory=dict)
    incidents: IncidentPolicy = field(default_factory=IncidentPolicy)
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    toil: ToilConfig = field(default_factory=ToilConfig)
    capacity: tuple[CapacityPlan, ...] = ()
    warnings: tuple[str, ...] = ()  # `path: message` of what was read but changes nothing
