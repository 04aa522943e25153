"""Postmortem drafts in the shape of the Google SRE book's template, from an incident."""

from __future__ import annotations

from msgspec import UNSET

from streams.domain.incidents.model import (
    DeployRecord,
    Incident,
    Status,
    TimelineEntry,
    deploy_text,
)
from streams.domain.timestamps import format_ts

DEPLOYS_BEFORE = 6 * 3600  # deploys this long before the opening are listed as candidates


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return (f"{hours} h {minutes:02d} min" if hours else
            f"{minutes} min {secs:02d} s" if minutes else f"{secs} s")


def postmortem_markdown(incident: Incident, deploys: list[DeployRecord] | None = None) -> str:
    """A draft for people to complete: facts filled in, causes and lessons left as headings."""
    where = ", ".join(f"{k}={v}" for k, v in incident.series.items()) or "all traffic"
    consumed = max(0.0, incident.budget_at_open - incident.budget_now)
    resolved = incident.resolved_at
    lasted = (resolved - incident.opened_at) if resolved is not None else None
    rules = sorted({a.rule for a in incident.alerts.values()})
    acked = next((e for e in incident.timeline if e.kind == "ack"), None)
    related = [d for d in (deploys or []) if d.at <= format_ts(resolved or 1e12)
               and d.at >= format_ts(incident.opened_at - DEPLOYS_BEFORE)]
    # Deploys shortly before the opening belong in the timeline too (likely triggers); those
    # during the incident are in it already.
    noted = {(e.at, e.text) for e in incident.timeline if e.kind == "deploy"}
    earlier = [_deploy_entry(d) for d in related]
    timeline = sorted([*incident.timeline, *(e for e in earlier if (e.at, e.text) not in noted)],
                      key=lambda e: e.at)
    lines = [
        f"# Postmortem: {incident.title}",
        "",
        "**Status:** draft  ",
        f"**Incident:** {incident.id} ({incident.priority})  ",
        f"**Service:** {incident.service}, SLO `{incident.slo}` ({where})  ",
        f"**Opened:** {format_ts(incident.opened_at)}  ",
        f"**Resolved:** {format_ts(resolved) if resolved is not None else 'not yet'}"
        f"{f' ({_duration(lasted)})' if lasted is not None else ''}  ",
        *([f"**Mitigated:** {format_ts(incident.mitigated_at)} "
           f"({_duration(incident.mitigated_at - incident.opened_at)}: the pages stopped)  "]
          if incident.mitigated_at is not None else []),
        f"**Owner:** {incident.assignee or 'unassigned'}",
        "",
        "## Summary",
        "",
        f"{incident.service} burned its error budget for SLO `{incident.slo}` ({where}) fast "
        f"enough to trip {', '.join(rules)}. The incident was "
        f"{'resolved' if incident.status is Status.RESOLVED else 'still open'} after "
        f"{_duration(lasted)}.",
        "",
        "## Impact",
        "",
        f"- Error budget consumed during the incident: **{100 * consumed:.2f}%** of the period's "
        f"budget ({100 * incident.budget_at_open:.2f}% remaining at opening, "
        f"{100 * incident.budget_now:.2f}% at the last alert).",
        f"- Peak burn rate reported by its alerts: {incident.peak_burn_long:.1f}x over a long "
        f"window, {incident.peak_burn_short:.1f}x over a short window.",
        f"- Affected requests: {_affected(incident)}.",
        "",
        "## Detection",
        "",
        f"- Detected by {', '.join(rules)} at {format_ts(incident.opened_at)}"
        + (f", {_duration(incident.detected_after)} after the burn began."
           if incident.detected_after is not None else "."),
        f"- Acknowledged: {acked.at} by {acked.by or 'unknown'} "
        f"({_duration(incident.acknowledged_at - incident.opened_at)} after opening)."
        if acked and incident.acknowledged_at is not None else "- Acknowledged: never.",
        f"- Escalation levels reached: {incident.escalation_level}.",
        "",
        "## Trigger",
        "",
        "_What changed or happened that set this off?_"
        + (" Deploys around the incident: "
           + ", ".join(f"{d.version} at {d.at}" for d in related) + "."
           if related else ""),
        "",
        "## Root causes",
        "",
        "_Why did the trigger lead to an outage? Ask why until the answer is a system property._",
        "",
        "## Resolution",
        "",
        next((e.text + "." for e in reversed(timeline) if e.kind == "resolved"),
             "_Not resolved yet._"),
        "",
        "## Timeline (UTC)",
        "",
        "| time | event | detail |",
        "|---|---|---|",
        *[f"| {e.at} | {e.kind} | {e.text.replace('|', '/')}"
          f"{' (' + e.by + ')' if e.by and e.by not in e.text else ''} |"
          for e in timeline],
        "",
        "## Action items",
        "",
        "| action item | type | owner | bug |",
        "|---|---|---|---|",
        "| _mitigate / prevent / process_ | | | |",
        "",
        "## Lessons learned",
        "",
        "### What went well",
        "",
        "### What went wrong",
        "",
        "### Where we got lucky",
        "",
    ]
    return "\n".join(lines)


def _deploy_entry(deploy: DeployRecord) -> TimelineEntry:
    return TimelineEntry(at=deploy.at, kind="deploy",
                         text=deploy_text(deploy.service, deploy.version),
                         by=deploy.by or UNSET)


def _affected(incident: Incident) -> str:
    if incident.bad_events is None:
        return "not known (no count events in the alerts)"
    return f"{incident.bad_events:,} failed requests"
