"""Silences: operators keep alerts matching some labels from opening or notifying, for a while."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

import msgspec
from msgspec import UNSET

from streams.domain.incidents.model import AlertState, CommandError, Incident
from streams.domain.timestamps import format_ts, parse_ts
from streams.wire.alerts import Alert
from streams.wire.commands import Command


class Silence(msgspec.Struct, frozen=True, kw_only=True):
    """Alerts whose labels match `match` neither open nor notify from `starts_at` to `until`."""

    id: str
    match: dict[str, str]
    starts_at: str
    until: str
    by: str
    comment: str

    def silences(self, facts: Mapping[str, str], at: float) -> bool:
        return (parse_ts(self.starts_at) <= at < parse_ts(self.until)
                and all(facts.get(k) == v for k, v in self.match.items()))

    def reason(self) -> str:
        return f"silenced by {self.by} until {self.until} ({self.id})"


def silence_of(command: Command, by: str, at: float) -> Silence:
    """The silence a silence command asks for (validated; CommandError when refused)."""
    match = {k: v for k, v in (command.match or {}).items() if isinstance(v, str)}
    if not match or command.match is UNSET or len(match) != len(command.match):
        raise CommandError("silence needs 'match': labels to match, as strings, e.g. "
                           "{\"service\": \"checkout\"}")
    try:
        if command.until is UNSET:
            raise KeyError("until")
        until = parse_ts(command.until)
    except (KeyError, ValueError, TypeError) as exc:
        raise CommandError(f"bad or missing 'until': {exc}") from None
    try:  # `from`: a later start (planned maintenance, or a replay's past); `ts` when sent
        starts = parse_ts(command.starts) if command.starts is not UNSET else at
    except (ValueError, TypeError) as exc:
        raise CommandError(f"bad 'from': {exc}") from None
    if until <= starts:
        raise CommandError("'until' must be after the start ('from', else 'ts')")
    digest = hashlib.sha1(f"{sorted(match.items())}|{at}|{by}".encode()).hexdigest()[:12]
    return Silence(id="sil-" + digest, match=match, starts_at=format_ts(starts),
                   until=format_ts(until), by=by, comment=command.comment or "")


def alert_facts(alert: Alert) -> dict[str, str]:
    """The labels a silence matches against: the SLO's labels, the series, names of the rule."""
    return {**{k: str(v) for k, v in alert.labels.items()},
            **{k: str(v) for k, v in alert.series.items()},
            "slo": alert.slo, "service": alert.service, "rule": alert.rule,
            "severity": alert.severity}


def suppression(alert: Alert, state: AlertState, latest: Incident | None, at: float,
                silences: Iterable[Silence], inhibit: bool,
                suppressed: Iterable[AlertState]) -> str | None:
    """Why a firing alert should neither open nor notify an incident, if it should not: a
    silence in force that matches it, or (with `inhibit`) a page of its series firing, in its
    latest incident or among the series' `suppressed` alerts (a silenced page still inhibits)."""
    facts = alert_facts(alert)
    for silence in silences:
        if silence.silences(facts, at):
            return silence.reason()
    if inhibit and state.severity != "page":
        pages = [a for a in (latest.alerts.values() if latest is not None else ())
                 if a.severity == "page" and a.status == "firing"]
        pages += [a for a in suppressed if a.severity == "page"]
        if pages:
            return f"inhibited by {pages[0].rule}"
    return None
