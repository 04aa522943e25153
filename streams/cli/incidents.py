"""`sre-streams incidents` (list, show, statistics, postmortem drafts, from `sre.incidents`)
and `sre-streams silences` (list and add silences, on `sre.commands`)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections.abc import Iterable
from typing import Any, BinaryIO, TextIO

import msgspec
import orjson
from aiokafka.errors import KafkaError

from streams.cli.usage import broker_failure
from streams.domain.durations import DurationError, parse_duration
from streams.domain.incidents.book import CommandError, IncidentBook
from streams.domain.incidents.statistics import (
    IncidentStatistics,
    IncidentSummary,
    IncidentTimes,
    incident_statistics,
)
from streams.domain.timestamps import format_ts, parse_ts
from streams.runtime.kafka.clients import send_commands
from streams.runtime.settings import Settings, SettingsError
from streams.runtime.state.changelog import read_after
from streams.wire.codec import WireError, builtins, convert, encode
from streams.wire.commands import Command, decode_command
from streams.wire.incidents import IncidentEvent, decode_incident


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "incidents", help="list incidents, show one, statistics, postmortem drafts",
        description="Read the incidents topic: the latest state of every incident.",
        parents=[_options(None)])
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    # The options are accepted after the action too (`incidents stats --json`).
    common = _options(argparse.SUPPRESS)
    actions.add_parser("list", help="every incident retained, newest first (the default)", parents=[common])
    show = actions.add_parser("show", help="one incident with its timeline", parents=[common])
    show.add_argument("id")
    actions.add_parser("stats", help="MTTA, MTTR, time to detect, counts by severity",
                       parents=[common])
    postmortem = actions.add_parser("postmortem", help="the postmortem draft (Markdown)",
                                    parents=[common])
    postmortem.add_argument("id")


def add_silences_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "silences", help="list silences in force, or add one",
        description="Silences keep matching alerts from opening or notifying incidents until "
                    "they expire. They are commands on the commands topic.",
        parents=[_options(None)])
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    listing = actions.add_parser("list", help="silences in force (the default)",
                                 parents=[_options(argparse.SUPPRESS)])
    listing.add_argument("--all", action="store_true", help="expired ones too")
    add = actions.add_parser("add", help="silence alerts matching labels for a while",
                             parents=[_options(argparse.SUPPRESS)])
    add.add_argument("--match", action="append", required=True, metavar="LABEL=VALUE",
                     help="a label (or slo, service, rule, severity, a group_by key) to match; "
                          "repeat for several")
    until = add.add_mutually_exclusive_group(required=True)
    until.add_argument("--for", dest="duration", help="how long, e.g. 2h")
    until.add_argument("--until", help="until when (RFC 3339)")
    add.add_argument("--from", dest="starts", help="from when (RFC 3339; default now): "
                                                   "planned maintenance, or a replay's past")
    add.add_argument("--by", required=True, help="who silences")
    add.add_argument("--comment", default="", help="why")


def _options(default: object) -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--broker", default=default, help="Kafka URL (default: $SRE_BROKER)")
    options.add_argument("--json", action="store_true", default=default or False,
                         help="JSON instead of text")
    return options


def latest(values: Iterable[bytes]) -> dict[str, IncidentEvent]:
    """The latest event of each incident (events of one incident are in order: keyed by id);
    messages that are not incident events are passed over."""
    found: dict[str, IncidentEvent] = {}
    for value in values:
        try:
            message = decode_incident(value)
        except WireError:
            continue
        previous = found.get(message.id)
        if (previous is not None and previous.postmortem and not message.postmortem
                and message.status == "resolved"):
            message = msgspec.structs.replace(message, postmortem=previous.postmortem)
        found[message.id] = message
    return found


def statistics(incidents: Iterable[IncidentEvent]) -> IncidentStatistics:
    """MTTA, MTTR, time to detect and counts by severity, overall and per service."""
    return incident_statistics(
        IncidentTimes(i.service, i.severity, i.status == "resolved", parse_ts(i.opened_at),
                      _instant(i.acknowledged_at), _instant(i.resolved_at), i.detected_after,
                      _instant(i.mitigated_at or None))
        for i in incidents)


def _instant(value: str | None) -> float | None:
    return parse_ts(value) if value else None


def _settings(args: argparse.Namespace, settings_for: Any, prog: str,
              stderr: TextIO) -> Settings | None:
    try:
        settings: Settings = settings_for({"broker": args.broker}, prog)
    except SettingsError as exc:
        print(f"{prog}: error: {exc}", file=stderr)
        return None
    return settings


def _read(settings: Settings, topic: str, prog: str, stderr: TextIO) -> list[bytes] | None:
    """Every message of `topic` (None, said on stderr, when the broker cannot be read)."""
    try:
        return asyncio.run(read_after(settings, topic, {}, quiet_ms=500))
    except (OSError, KafkaError) as exc:
        print(broker_failure(prog, settings, exc), file=stderr)
        return None


def run_silences(args: argparse.Namespace, settings_for: Any, stdout: BinaryIO,
                 stderr: TextIO) -> int:
    prog = "sre-streams silences"
    settings = _settings(args, settings_for, prog, stderr)
    if settings is None:
        return 2
    now = time.time()
    if args.action == "add":
        match = dict(item.split("=", 1) for item in args.match if "=" in item)
        if len(match) != len(args.match):
            print(f"{prog}: error: --match takes LABEL=VALUE", file=stderr)
            return 2
        try:
            starts = parse_ts(args.starts) if args.starts else now
            until = starts + parse_duration(args.duration) if args.duration else parse_ts(args.until)
        except (DurationError, ValueError) as exc:
            print(f"{prog}: error: {exc}", file=stderr)
            return 2
        command = {"command": "silence", "match": match, "from": format_ts(starts),
                   "until": format_ts(until), "by": args.by, "comment": args.comment,
                   # Sent now; a start in the past (a replay's) is also when it takes effect.
                   "ts": format_ts(min(now, starts))}
        try:  # refused here as the worker would refuse it
            IncidentBook().on_command(convert(command, Command, "command"))
        except (CommandError, WireError) as exc:
            print(f"{prog}: error: {exc}", file=stderr)
            return 2
        try:
            asyncio.run(send_commands(settings, [command]))
        except (OSError, KafkaError) as exc:
            print(broker_failure(prog, settings, exc), file=stderr)
            return 1
        stdout.write(f"silenced {match} until {format_ts(until)}\n".encode())
        return 0
    values = _read(settings, settings.topics.commands, prog, stderr)
    if values is None:
        return 1
    book = IncidentBook()
    for value in values:
        with contextlib.suppress(ValueError, TypeError, OverflowError, OSError):
            sent = decode_command(value)  # (a WireError is a ValueError)
            if sent.command == "silence":
                with contextlib.suppress(CommandError):
                    book.silence(sent, sent.by, parse_ts(sent.ts))
    silences = [s for s in book.active_silences()
                if getattr(args, "all", False) or parse_ts(s.until) > now]
    if args.json:
        stdout.write(b"".join(encode(s) + b"\n" for s in silences))
    else:
        for s in silences:
            matchers = ",".join(f"{k}={v}" for k, v in s.match.items())
            stdout.write(f"{s.id}  until {s.until}  {matchers}  by {s.by}"
                         f"{'  ' + s.comment if s.comment else ''}\n".encode())
        if not silences:
            stdout.write(b"no silences in force\n")
    return 0


def run(args: argparse.Namespace, settings_for: Any, stdout: BinaryIO, stderr: TextIO) -> int:
    prog = "sre-streams incidents"
    settings = _settings(args, settings_for, prog, stderr)
    if settings is None:
        return 2
    values = _read(settings, settings.topics.incidents, prog, stderr)
    if values is None:
        return 1
    incidents = latest(values)
    action = args.action or "list"
    if action in {"show", "postmortem"}:
        incident = incidents.get(args.id)
        if incident is None:
            print(f"{prog}: error: no incident {args.id!r} on {settings.topics.incidents}",
                  file=stderr)
            return 2
        if action == "postmortem":
            if not incident.postmortem:
                print(f"{prog}: error: incident {args.id} is not resolved: no postmortem draft yet",
                      file=stderr)
                return 1
            stdout.write(incident.postmortem.encode() + b"\n")
            return 0
        _write(stdout, builtins(incident) if args.json else None, _show(incident))
        return 0
    if action == "stats":
        stats = statistics(incidents.values())
        _write(stdout, builtins(stats) if args.json else None, _stats_text(stats))
        return 0
    ordered = sorted((i for i in incidents.values() if i.event != "retired"),
                     key=lambda i: i.opened_at, reverse=True)  # retired: past retention
    if args.json:
        stdout.write(b"".join(encode(i) + b"\n" for i in ordered))
    else:
        for i in ordered:
            stdout.write((f"{i.id}  {i.severity}  {i.status:<12} {i.opened_at}  "
                          f"{i.title}\n").encode())
    return 0


def _write(stdout: BinaryIO, data: object, text: str) -> None:
    stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n" if data is not None
                 else text.encode())


def _show(i: IncidentEvent) -> str:
    lines = [f"{i.id}  {i.severity}  {i.status}  {i.title}",
             f"  service {i.service}, slo {i.slo}, series {i.series}",
             f"  opened {i.opened_at}, acknowledged {i.acknowledged_at or '-'}, "
             f"mitigated {i.mitigated_at or '-'}, resolved {i.resolved_at or '-'}, "
             f"assignee {i.assignee or '-'}, "
             f"escalation level {i.escalation_level}",
             "  alerts:"]
    lines += [f"    {a.rule:<12} {a.status:<9} since {a.started_at}" for a in i.alerts]
    return "\n".join(lines) + "\n"


def _stats_text(stats: IncidentStatistics) -> str:
    def row(name: str, s: IncidentSummary) -> str:
        def minutes(value: float | None) -> str:
            return "-" if value is None else f"{value / 60:.1f} min"
        severity = " ".join(f"{k}={v}" for k, v in s.by_severity.items())
        return (f"{name:<20} {s.incidents:>4} incidents ({s.open} open, {s.mitigated} "
                f"mitigated)  {severity}  MTTA {minutes(s.mtta_seconds)}  "
                f"MTTR to mitigate {minutes(s.time_to_mitigate_seconds)}  "
                f"MTTR to resolve {minutes(s.time_to_resolve_seconds)}  "
                f"MTTD {minutes(s.mttd_seconds)}")
    return "\n".join([row("overall", stats.overall),
                      *(row(name, s) for name, s in stats.services.items())]) + "\n"
