"""The pages: the overview of every SLO series, one SLO, the incidents and one incident.

Pure: a `PageData` (what the incident leader holds) and the query in, HTML out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from html import escape

from streams.domain.history import HistoryBook
from streams.domain.incidents.book import FiringAlert, IncidentBook
from streams.domain.incidents.model import Incident, Status
from streams.domain.incidents.postmortem import postmortem_markdown
from streams.domain.policy import PolicyBook, series_key
from streams.domain.slo.model import AvailabilitySli, LatencySli, Slo, SloFile
from streams.domain.timestamps import parse_ts
from streams.web import charts
from streams.web.layout import (
    badge,
    duration,
    link,
    number,
    objective,
    page,
    pct,
    query_link,
    rate,
    series_text,
    table,
    when,
)
from streams.web.overview import SORTS, URGENCY, Row, rows, select

MAX_CHARTS = 12  # series charted on an SLO's page (the most urgent; `series=` picks others)


@dataclass
class PageData:
    """What the pages read: the leader's books, and the overview's optional sections."""

    slo_file: SloFile
    policies: PolicyBook
    book: IncidentBook | None
    history: HistoryBook | None
    # Sections the overview shows when configured (capacity runways, toil shares): each returns
    # its HTML, or None when its part of the SLO file is absent.
    sections: list[Callable[[PageData], str | None]] = field(default_factory=list)

    @property
    def slos(self) -> dict[str, Slo]:
        return {slo.name: slo for slo in self.slo_file.slos}


# -- the overview ----------------------------------------------------------------------------


def _row_cells(row: Row) -> list[str]:
    allowed = ("–" if row.bad_allowed is None
               else f"{number(row.bad_used)} of {number(row.bad_allowed)}")
    incident = (link(f"/incidents/{row.incident}", row.incident_title or row.incident)
                if row.incident else "–")
    return [badge(row.status), link(f"/slos/{row.slo}", row.slo), escape(row.service),
            escape(series_text(row.series) if row.at else "–"),
            f"{pct(row.sli, 3)} / {objective(row.objective)}", escape(row.window),
            f'<span class="{"neg" if (row.remaining or 0) < 0 else ""}">{pct(row.remaining)}'
            "</span>", allowed, rate(row.burn_1h), rate(row.burn_6h),
            f"{duration(row.exhaustion_1h)} / {duration(row.exhaustion_6h)}",
            " ".join(badge(rule, "firing") for rule in row.firing) or "–", incident,
            badge(row.gate)]


def _filters(data: PageData, query: Mapping[str, str]) -> str:
    services = sorted({slo.service for slo in data.slo_file.slos})
    options = "".join(f'<option value="{escape(s)}"{" selected" if query.get("service") == s else ""}>'
                      f"{escape(s)}</option>" for s in services)
    statuses = "".join(f'<option value="{s}"{" selected" if query.get("status") == s else ""}>'
                       f"{s}</option>" for s in URGENCY)
    sorts = "".join(f'<option value="{s}"{" selected" if query.get("sort") == s else ""}>'
                    f"{s}</option>" for s in SORTS)
    return ('<form class="filters" method="get" action="/">'
            f'<label>service <select name="service"><option value="">all</option>{options}'
            "</select></label>"
            f'<label>label <input name="label" placeholder="team=payments" '
            f'value="{escape(query.get("label", ""))}"></label>'
            f'<label>status <select name="status"><option value="">any</option>{statuses}'
            "</select></label>"
            f'<label>search <input name="q" value="{escape(query.get("q", ""))}"></label>'
            f'<label>sort <select name="sort">{sorts}</select></label>'
            '<button type="submit">apply</button> <a href="/">reset</a></form>')


def overview(data: PageData, query: Mapping[str, str]) -> str:
    """The `<main>` of `/`."""
    everything = rows(data.slo_file, data.policies, data.book)
    chosen = select(everything, query)
    head = [f'<a href="{escape(query_link("/", query, sort=key))}">{name}</a>' if key else name
            for key, name in (("urgency", "status"), ("slo", "SLO"), ("service", "service"),
                              ("", "series"), ("", "SLI / objective"), ("", "period"),
                              ("budget", "budget left"), ("", "bad events: used of allowed"),
                              ("burn_1h", "burn 1h"), ("burn_6h", "burn 6h"),
                              ("exhaustion", "budget gone in (1h / 6h rate)"),
                              ("", "firing"), ("", "open incident"), ("", "deploy gate"))]
    counts = {status: sum(r.status == status for r in everything) for status in URGENCY}
    summary = " ".join(badge(f"{counts[s]} {s}", s) for s in URGENCY if counts[s])
    parts = [f"<h1>SLOs</h1><p class=\"summary\">{len(everything)} series of "
             f"{len(data.slo_file.slos)} SLOs: {summary}</p>", _filters(data, query),
             f'<p class="shown">{len(chosen)} shown</p>',
             table(head, (_row_cells(r) for r in chosen), "overview")]
    for section in data.sections:
        html = section(data)
        if html is not None:
            parts.append(f'<section class="extra">{html}</section>')
    return "".join(parts)


def overview_page(data: PageData, query: Mapping[str, str]) -> str:
    return page("SLOs", overview(data, query), active="/")


# -- one SLO ---------------------------------------------------------------------------------


def _markers(data: PageData, slo: Slo, series: Mapping[str, str]) -> list[charts.Marker]:
    markers: list[charts.Marker] = []
    book = data.book
    if book is None:
        return markers
    for deploy in book.deploys.get(slo.service, []):
        markers.append(charts.Marker(parse_ts(deploy.at), "deploy",
                                     f"deploy {deploy.version} at {deploy.at}"))
    for incident in book.incidents.values():
        if incident.slo != slo.name or dict(incident.series) != dict(series):
            continue
        markers.append(charts.Marker(incident.opened_at, "incident",
                                     f"incident {incident.title} opened", f"/incidents/{incident.id}"))
        for alert in incident.alerts.values():
            markers.append(charts.Marker(parse_ts(alert.started_at), "alert",
                                         f"{alert.rule} ({alert.severity}) fired at "
                                         f"{alert.started_at}"))
    return markers


def _rules_table(data: PageData, slo: Slo, row: Row, alerts: list[FiringAlert]) -> str:
    snapshot = data.policies.budgets.get(series_key(slo.name, row.series))
    firing_since = {alert.rule: alert.started_at for alert in alerts
                    if alert.slo == slo.name and alert.series == row.series}
    now = parse_ts(snapshot.at) if snapshot is not None else None
    lines = []
    for rule in slo.policy.rules:
        burns = snapshot.burn_rates if snapshot is not None else {}
        firing = snapshot is not None and rule.name in snapshot.firing
        since = firing_since.get(rule.name)
        lines.append([escape(rule.name), badge(rule.severity.value),
                      f"{rate(burns.get(rule.long_label))} over {rule.long_label}",
                      f"{rate(burns.get(rule.short_label))} over {rule.short_label}",
                      f"{rule.factor(slo.window):.2f}×",
                      badge("firing") if firing else badge("ok"),
                      duration(now - parse_ts(since)) if firing and since and now else "–"])
    return table(["rule", "severity", "long burn", "short burn", "threshold", "state",
                  "firing for"], lines, "rules")


def _definition(slo: Slo) -> str:
    if isinstance(slo.sli, AvailabilitySli):
        bad = sorted(f"{c}xx" for c in slo.sli.bad_classes) + sorted(map(str, slo.sli.bad_codes))
        sli = f"availability: bad when the status is {', '.join(bad)}"
    elif isinstance(slo.sli, LatencySli):
        sli = f"latency: good when at most {slo.sli.threshold_ms:g} ms"
    else:
        sli = type(slo.sli).__name__
    policy = slo.budget_policy
    items = [("service", slo.service), ("objective", objective(slo.objective)),
             ("period", slo.window_label), ("SLI", sli),
             ("series by", ", ".join(slo.group_by) or "(one series)"),
             ("labels", series_text(dict(slo.labels)) if slo.labels else "–"),
             ("alerting", slo.policy.name),
             ("budget policy", f"warn below {pct(policy.warn_below, 0)}, freeze at or below "
                               f"{pct(policy.freeze_below, 0)}, exceptions "
                               f"{', '.join(policy.exceptions) or 'none'}"),
             ("min events", str(slo.min_events))]
    body = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in items)
    if slo.runbook_url:
        body += f"<dt>runbook</dt><dd>{escape(slo.runbook_url)}</dd>"
    return f'<dl class="definition">{body}</dl>'


def slo(data: PageData, name: str, query: Mapping[str, str]) -> str | None:
    """The `<main>` of `/slos/{name}` (None: no such SLO)."""
    found = data.slos.get(name)
    if found is None:
        return None
    series_rows = [r for r in select(rows(data.slo_file, data.policies, data.book, found), {})
                   if r.at]
    firing = data.book.firing_alerts() if data.book is not None else []
    wanted = query.get("series")
    if wanted:
        series_rows = [r for r in series_rows if series_text(r.series) == wanted]
    parts = [f"<h1>{escape(found.name)}</h1>",
             f'<p class="summary">{escape(found.service)} · objective '
             f"{objective(found.objective)} over {escape(found.window_label)} · "
             f"{len(series_rows)} series · {link('/', 'all SLOs')}</p>"]
    if not series_rows:
        parts.append('<p class="empty">no budget snapshot yet for this SLO</p>')
    for row in series_rows[:MAX_CHARTS]:
        history = data.history.of(found.name, row.series) if data.history else None
        points = history.points() if history is not None else []
        markers = _markers(data, found, row.series)
        incident = (" · open incident " + link(f"/incidents/{row.incident}",
                                                 row.incident_title or row.incident)
                    if row.incident else "")
        parts.append(
            f'<section class="series" data-series="{escape(series_text(row.series))}">'
            f"<h2>{escape(series_text(row.series))} {badge(row.status)}</h2>"
            f'<p>budget left <b>{pct(row.remaining)}</b>: {number(row.bad_used)} bad events of '
            f"{number(row.bad_allowed)} allowed so far · SLI {pct(row.sli, 3)} · burn "
            f"{rate(row.burn_1h)} (1h), {rate(row.burn_6h)} (6h) · as of {when(row.at)}"
            f"{incident}</p>"
            f"<h3>error budget burn-down</h3>{charts.burn_down(points, found.window, markers)}"
            '<p class="legend"><span class="key remaining">remaining</span>'
            '<span class="key ideal">ideal (even burn over the period)</span>'
            '<span class="key deploy">deploy</span><span class="key alert">alert</span>'
            '<span class="key incident">incident</span></p>'
            f"<h3>events per minute</h3>{charts.event_rates(points, markers)}"
            '<p class="legend"><span class="key good">good</span>'
            '<span class="key bad">bad</span></p>'
            f"<h3>multiwindow alert rules</h3>{_rules_table(data, found, row, firing)}</section>")
    if len(series_rows) > MAX_CHARTS:
        more = ", ".join(link(query_link(f"/slos/{name}", {}, series=series_text(r.series)),
                              series_text(r.series)) for r in series_rows[MAX_CHARTS:])
        parts.append(f"<p>more series: {more}</p>")
    parts.append(f"<h2>definition</h2>{_definition(found)}")
    return "".join(parts)


def slo_page(data: PageData, name: str, query: Mapping[str, str]) -> str | None:
    main = slo(data, name, query)
    return None if main is None else page(name, main, active="/", refresh=30)


# -- incidents -------------------------------------------------------------------------------


def _incident_row(incident: Incident) -> list[str]:
    return [link(f"/incidents/{incident.id}", incident.title), badge(incident.status.value),
            badge(incident.priority.value), link(f"/slos/{incident.slo}", incident.slo),
            escape(series_text(incident.series)), when(incident.opened_at),
            when(incident.resolved_at), pct(incident.budget_now)]


def incidents(data: PageData) -> str:
    book = data.book
    if book is None:
        return "<h1>Incidents</h1><p>no incident book yet</p>"
    everything = sorted(book.incidents.values(), key=lambda i: i.opened_at, reverse=True)
    head = ["incident", "status", "priority", "SLO", "series", "opened", "resolved",
            "budget left"]
    open_ = [_incident_row(i) for i in everything if i.status is not Status.RESOLVED]
    recent = [_incident_row(i) for i in everything if i.status is Status.RESOLVED][:50]
    return ("<h1>Incidents</h1><h2>open</h2>"
            + (table(head, open_, "incidents") if open_ else "<p>none open</p>")
            + "<h2>recent</h2>"
            + (table(head, recent, "incidents") if recent else "<p>none resolved yet</p>"))


def incidents_page(data: PageData) -> str:
    return page("Incidents", incidents(data), active="/incidents")


def incident(data: PageData, ident: str) -> str | None:
    book = data.book
    found = book.incidents.get(ident) if book is not None else None
    if book is None or found is None:
        return None
    facts = [("status", found.status.value), ("priority", found.priority.value),
             ("SLO", found.slo), ("series", series_text(found.series)),
             ("opened", when(found.opened_at)), ("acknowledged", when(found.acknowledged_at)),
             ("resolved", when(found.resolved_at)), ("assignee", found.assignee or "–"),
             ("budget at opening", pct(found.budget_at_open)),
             ("budget now", pct(found.budget_now)),
             ("detected after", duration(found.detected_after))]
    body = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in facts)
    alerts = table(["rule", "severity", "status", "started", "burn long", "burn short"],
                   ([escape(a.rule), badge(a.severity), badge(a.status), when(a.started_at),
                     rate(a.burn_rate_long), rate(a.burn_rate_short)]
                    for a in found.alerts.values()), "alerts")
    timeline = table(["at", "what", "by", "detail"],
                     ([when(e.at), escape(e.kind), escape(str(e.by) if e.by else "–"),
                       escape(e.text)] for e in found.timeline), "timeline")
    draft = postmortem_markdown(found, book.deploys.get(found.service))
    return (f"<h1>{escape(found.title)}</h1>"
            f'<p class="summary">{link(f"/slos/{found.slo}", found.slo)} · '
            f"{link('/incidents', 'all incidents')}</p>"
            f'<dl class="definition">{body}</dl><h2>alerts</h2>{alerts}'
            f"<h2>timeline</h2>{timeline}"
            f'<h2>postmortem draft</h2><pre class="postmortem">{escape(draft)}</pre>')


def incident_page(data: PageData, ident: str) -> str | None:
    main = incident(data, ident)
    return None if main is None else page(ident, main, active="/incidents")
