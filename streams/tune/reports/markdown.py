"""The tune report as Markdown that also reads well as plain text in a terminal.

Tables are padded to aligned columns, and each chart has a text twin: burn rates as block
sparklines (log scale), then the incidents and each policy's alerts as bars.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from streams.tune.incidents import SeriesLabels
from streams.tune.reports import tables
from streams.tune.reports.chart import series_name
from streams.tune.reports.document import Inputs
from streams.tune.reports.humanize import duration, factor, moment, objective
from streams.tune.tuning import SloResult, TuneResult

TIMELINE_COLUMNS = 72
_SPARKS = " ▁▂▃▄▅▆▇█"
_PAGE, _TICKET, _QUIET = "█", "▒", "·"

Images = Mapping[tuple[str, SeriesLabels], str]  # (SLO, series) -> SVG path relative to the report


def markdown_report(result: TuneResult, inputs: Inputs, images: Images | None = None) -> str:
    lines = ["# Alert policy backtest", "", *_overview(result, inputs), ""]
    for slo in result.slos:
        lines += _slo_section(slo, result.data, images or {})
    return "\n".join(lines).rstrip() + "\n"


def _overview(result: TuneResult, inputs: Inputs) -> list[str]:
    stats = result.stats
    days = (result.data[1] - result.data[0]) / 86400
    incidents = sum(len(slo.incidents) + len(slo.unscored) for slo in result.slos)
    return [
        f"- SLO file: `{inputs.slos}`",
        f"- Events: `{inputs.events}`: {stats.events:,} events, {moment(result.data[0])} .. "
        f"{moment(result.data[1])} UTC ({days:.1f} days)",
        f"- Incidents: `{inputs.incidents}`: {incidents} labelled" if inputs.incidents
        else "- Incidents: none labelled (pass --incidents for precision, recall and detection time)",
        f"- {len(result.candidates)} candidate policies, each replayed through the engine of "
        f"`sre-streams backtest` (evaluation every {duration(result.eval_interval)})",
        "",
        "Scores as in the SRE Workbook's “Alerting on SLOs”: precision is the share of alerts that "
        "overlapped a labelled incident, recall the share of incidents alerted on; detection time "
        "runs from an incident's start to its first alert, reset time from its end to the last "
        "resolve. Figures are medians, worst in brackets.",
        *(["", *(f"**Warning:** {warning}" for warning in result.warnings)] if result.warnings else []),
    ]


def _slo_section(result: SloResult, data: tuple[float, float], images: Images) -> list[str]:
    slo = result.slo
    lines = [f"## {slo.name}: {objective(slo.objective)} over {slo.window_label} "
             f"(configured policy: {slo.policy.name})", ""]
    warm_up = result.scored[0] - data[0]
    lines.append(f"Scored from {moment(result.scored[0])} to {moment(result.scored[1])} UTC"
                 + (f", after a warm-up of {duration(warm_up)} while windows filled" if warm_up else "")
                 + f"; {len(result.incidents)} labelled incident(s) scored"
                 + (f", {len(result.unscored)} in the warm-up not scored." if result.unscored else "."))
    recommended = result.recommendation.policy
    lines += ["", f"**Recommended: {recommended}**" if recommended else "**No recommendation**", ""]
    lines += [f"- {reason}" for reason in result.recommendation.reasoning] + [""]
    for severity in tables.severities(result):
        scores = tables.score_rows(result, severity)
        lines += [f"### {tables.SEVERITY_TITLES[severity]}", "",
                  *_table(tables.SCORE_HEADER, scores, tables.SCORE_NUMERIC), ""]
    candidates = tables.candidate_rows(result)
    lines += ["### Candidates", "", *_table(tables.CANDIDATE_HEADER, candidates, frozenset()), ""]
    for series in result.charted_series():
        title = f"{slo.name} {series_name(series)}".strip()
        lines += [f"### Timeline: {title}", ""]
        image = images.get((slo.name, series))
        if image:
            lines += [f"![{title}: burn rates, alert spans and labelled incidents]({image})", ""]
        lines += ["```text", *text_timeline(result, series, data), "```", ""]
    return lines


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric: frozenset[int]) -> list[str]:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(cell.rjust(width) if i in numeric else cell.ljust(width)
                                 for i, (cell, width) in enumerate(zip(cells, widths, strict=True))) + " |"

    rule = "|" + "|".join("-" * (width + 1) + ":" if i in numeric else "-" * (width + 2)
                          for i, width in enumerate(widths)) + "|"
    return [line(header), rule, *(line(row) for row in rows)]


def text_timeline(result: SloResult, series: SeriesLabels, data: tuple[float, float]) -> list[str]:
    """A chart in text: one column per 1/72 of the data, peak burn rates and alert bars."""
    start, end = data
    cell = max(end - start, 1.0) / TIMELINE_COLUMNS

    def column(t: float) -> int:
        return min(TIMELINE_COLUMNS - 1, max(0, int((t - start) / cell)))

    rows: list[tuple[str, str]] = []
    top = 10.0
    timeline = result.timelines.get(series)
    if timeline is not None:
        peaks = [[0.0] * TIMELINE_COLUMNS for _ in result.chart_windows]
        for t, values in timeline.points():
            for w, value in enumerate(values):
                peaks[w][column(t)] = max(peaks[w][column(t)], value)
        top = max(top, *(max(row) for row in peaks))
        rows += [(f"burn {window}", "".join(_spark(v, top) for v in peaks[w]))
                 for w, window in enumerate(result.chart_windows)]
    bar = [_QUIET] * TIMELINE_COLUMNS
    for incident in (*result.unscored, *result.incidents):
        if incident.covers(result.slo.name, series):
            for c in range(column(incident.start), column(incident.end) + 1):
                bar[c] = _PAGE
    rows.append(("incidents", "".join(bar)))
    for policy in result.policies:
        if policy.rules:
            bar = [_QUIET] * TIMELINE_COLUMNS
            for span in sorted(policy.spans, key=lambda s: s.severity == "page"):
                if span.series == series:
                    mark = _PAGE if span.severity == "page" else _TICKET
                    for c in range(column(span.start), column(end if span.end is None else span.end) + 1):
                        bar[c] = mark
            rows.append((policy.candidate.name, "".join(bar)))
    pad = max(len(label) for label, _ in rows) + 2
    scale = f"burn rate log scale 0.1× .. {factor(10 ** math.ceil(math.log10(top)))}" \
        if timeline is not None else "no burn-rate samples"
    first, last = moment(start), moment(end)
    return [
        " " * pad + first + last.rjust(TIMELINE_COLUMNS - len(first)),
        *(label.ljust(pad) + bar for label, bar in rows),
        " " * pad + f"{_PAGE} page  {_TICKET} ticket  {_QUIET} quiet; one column = "
        f"{duration(cell)}; {scale}",
    ]


def _spark(value: float, top: float) -> str:
    """A block whose height is the burn rate on a log scale from 0.1 to `top`."""
    if value <= 0.1:
        return _SPARKS[0]
    share = (math.log10(value) + 1) / (math.log10(top) + 1)
    return _SPARKS[max(1, min(len(_SPARKS) - 1, math.ceil(share * (len(_SPARKS) - 1))))]

