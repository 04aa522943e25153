"""The worker's toil ledger: work events and incident work kept by day, the report of the last
four weeks, and the `toil-cap` alert of a team over its cap.

Kept per UTC day and (team, task, kind, source, outcome): minutes and occurrences, so the
state grows with the distinct tasks of a day, not with the work logged. The live report's
window is the 28 days up to the latest event time, by whole days (the day of the latest event
counts whole); the offline report (`sre-streams toil report`) is exact to the second.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator

from streams.domain.stored import StoredState
from streams.domain.timestamps import format_ts
from streams.domain.toil.config import ToilConfig
from streams.domain.toil.ledger import WorkItem, interrupt, span, span_key
from streams.domain.toil.report import toil_report
from streams.wire.alerts import Alert
from streams.wire.incidents import IncidentEvent
from streams.wire.toil import ToilReport

DAY = 86400.0
WINDOW_DAYS = 28
KEEP_DAYS = WINDOW_DAYS + 7
CAP_RULE = "toil-cap"

Key = tuple[str, str, str, str, str]  # team, task, kind, source, outcome ("" when none)


def _key(item: WorkItem) -> str:
    return "\x1f".join((item.team, item.task, item.kind, item.source or "", item.outcome or ""))


class LiveToil:
    """Work by day, the teams over their cap, and where the report stands."""

    def __init__(self, config: ToilConfig) -> None:
        self.config = config
        self.days: dict[int, dict[str, list[float]]] = {}  # day -> key -> [count (int), minutes]
        self.over_cap: dict[str, str] = {}  # team -> when its toil-cap alert started firing
        self.spans_done: dict[str, int] = {}  # span_key -> day the span was counted
        self.now: float | None = None
        self.changed = True  # since the last cap check: work added, or a new day (window moved)

    # --- input ---------------------------------------------------------------------------

    def add(self, item: WorkItem) -> None:
        day = int(item.at // DAY)
        if self.now is not None and day <= int(self.now // DAY) - KEEP_DAYS:
            return  # older than anything the report reads
        entry = self.days.setdefault(day, {}).setdefault(_key(item), [0, 0.0])
        entry[0] += 1
        entry[1] += item.minutes
        self.changed = True
        self.advance(item.at)

    def on_incident(self, event: IncidentEvent) -> None:
        """Interrupts as they happen; each acknowledged span once, when the incident is
        mitigated or resolved (whichever comes first)."""
        found = interrupt(event, self.config.interrupt_minutes)
        if found is not None:
            self.add(found)
        worked = span(event)
        if worked is not None and span_key(event) not in self.spans_done:
            self.add(worked)
            self.spans_done[span_key(event)] = int(worked.at // DAY)

    def advance(self, now: float) -> None:
        if self.now is not None and now <= self.now:
            return
        if self.now is None or int(now // DAY) != int(self.now // DAY):
            self.changed = True  # the report's window of whole days moved
        self.now = now
        oldest = int(now // DAY) - KEEP_DAYS
        for day in [d for d in self.days if d <= oldest]:
            del self.days[day]
        for ident in [i for i, day in self.spans_done.items() if day <= oldest]:
            del self.spans_done[ident]

    # --- output --------------------------------------------------------------------------

    def items(self) -> Iterator[WorkItem]:
        for day, entries in self.days.items():
            at = day * DAY + DAY / 2
            for key, (count, minutes) in entries.items():
                team, task, kind, source, outcome = key.split("\x1f")
                each = minutes / count
                for _ in range(int(count)):
                    yield WorkItem(at, team, "", task, each, kind, source or None, None,
                                   outcome or None)

    def report(self) -> ToilReport | None:
        if self.now is None:
            return None
        end = (math.floor(self.now / DAY) + 1) * DAY
        return toil_report(self.items(), self.config, end - WINDOW_DAYS * DAY, end)

    def cap_alerts(self, at: float) -> list[Alert]:
        """`toil-cap` transitions of the configured teams since the last call (the report is
        only made again when the ledger or its window changed: the leader asks every step)."""
        if not self.changed:
            return []
        self.changed = False
        report = self.report()
        if report is None:
            return []
        alerts = []
        for team in report.teams:
            name, share = team.team, team.toil_share
            if share is None:
                continue
            over = team.over_cap
            if over == (name in self.over_cap):
                continue
            started = self.over_cap.pop(name, None) if not over else format_ts(at)
            if over:
                self.over_cap[name] = started or format_ts(at)
            alerts.append(self._alert(name, share, over, at, started or format_ts(at)))
        return alerts

    def _alert(self, team: str, share: float, firing: bool, at: float, started: str) -> Alert:
        cap = self.config.cap
        return Alert(
            id=hashlib.sha256(f"{CAP_RULE}|{team}".encode()).hexdigest()[:16],
            status="firing" if firing else "resolved", slo=CAP_RULE, service=team,
            series={"team": team}, rule=CAP_RULE, severity="ticket",
            long_window=f"{WINDOW_DAYS}d", short_window=f"{WINDOW_DAYS}d", threshold=1.0,
            burn_rate_long=share / cap, burn_rate_short=share / cap,
            error_budget_remaining=max(0.0, 1 - share / cap), at=format_ts(at),
            started_at=started, labels={"team": team},
            annotations={"summary": f"team {team} spent {share:.1%} of its time on toil over "
                                    f"the last {WINDOW_DAYS} days (cap {cap:.0%})"})

    # --- stored --------------------------------------------------------------------------

    def export(self) -> StoredState:
        return {"days": {str(day): entries for day, entries in self.days.items()},
                "over_cap": dict(self.over_cap), "spans_done": dict(self.spans_done),
                "now": self.now}

    def restore(self, stored: StoredState) -> None:
        self.days = {int(day): {k: [int(v[0]), float(v[1])] for k, v in entries.items()}
                     for day, entries in (stored.get("days") or {}).items()}
        self.over_cap = dict(stored.get("over_cap") or {})
        self.spans_done = {str(k): int(v) for k, v in (stored.get("spans_done") or {}).items()}
        self.now = stored.get("now")
