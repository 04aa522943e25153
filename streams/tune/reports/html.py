"""The tune report as one self-contained HTML page, charts as inline SVG."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from streams.tune.reports import tables
from streams.tune.reports.chart import timeline_chart
from streams.tune.reports.document import Inputs
from streams.tune.reports.humanize import duration, moment, objective
from streams.tune.reports.svg import to_svg
from streams.tune.tuning import SloResult, TuneResult

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1240px; color: #222; }
h1, h2, h3 { font-weight: 600; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 14px; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f2f2f2; }
.recommendation { background: #eef6ee; border-left: 4px solid #2ca02c; padding: 0.5em 1em; }
.recommendation.none { background: #f6f2ee; border-left-color: #ff7f0e; }
.warning { background: #fdf3e7; padding: 0.5em 1em; }
figure { margin: 1em 0; overflow-x: auto; }
figcaption { font-size: 13px; color: #555; }
"""


def html_report(result: TuneResult, inputs: Inputs) -> str:
    stats = result.stats
    incidents = (f"<code>{escape(inputs.incidents)}</code>" if inputs.incidents
                 else "none labelled (pass --incidents for precision, recall and detection time)")
    parts = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        "<title>Alert policy backtest</title>", f"<style>{_STYLE}</style>", "</head>", "<body>",
        "<h1>Alert policy backtest</h1>",
        "<ul>",
        f"<li>SLO file: <code>{escape(inputs.slos)}</code></li>",
        f"<li>Events: <code>{escape(inputs.events)}</code>: {stats.events:,} events, "
        f"{moment(result.data[0])} .. {moment(result.data[1])} UTC</li>",
        f"<li>Incidents: {incidents}</li>",
        f"<li>{len(result.candidates)} candidate policies, each replayed through the engine of "
        f"<code>sre-streams backtest</code> (evaluation every {duration(result.eval_interval)})</li>",
        "</ul>",
        "<p>Scores as in the SRE Workbook's “Alerting on SLOs”: precision is the share of alerts "
        "that overlapped a labelled incident, recall the share of incidents alerted on; detection "
        "time runs from an incident's start to its first alert, reset time from its end to the "
        "last resolve. Figures are medians, worst in brackets.</p>",
        *(f'<p class="warning"><strong>Warning:</strong> {escape(warning)}</p>'
          for warning in result.warnings),
    ]
    for slo in result.slos:
        parts += _slo_section(slo, result.data)
    parts += ["</body>", "</html>"]
    return "\n".join(parts) + "\n"


def _slo_section(result: SloResult, data: tuple[float, float]) -> list[str]:
    slo = result.slo
    recommended = result.recommendation.policy
    warm_up = result.scored[0] - data[0]
    parts = [
        f'<section class="slo" id="{escape(slo.name)}">',
        f"<h2>{escape(slo.name)}: {objective(slo.objective)} over {slo.window_label} "
        f"(configured policy: {escape(slo.policy.name)})</h2>",
        f"<p>Scored from {moment(result.scored[0])} to {moment(result.scored[1])} UTC"
        + (f", after a warm-up of {duration(warm_up)} while windows filled" if warm_up else "")
        + f"; {len(result.incidents)} labelled incident(s) scored.</p>",
        f'<div class="recommendation{"" if recommended else " none"}">',
        f"<p><strong>{'Recommended: ' + escape(recommended) if recommended else 'No recommendation'}"
        "</strong></p>",
        "<ul>", *(f"<li>{escape(reason)}</li>" for reason in result.recommendation.reasoning), "</ul>",
        "</div>",
    ]
    for series in result.charted_series():
        chart = timeline_chart(result, series, data)
        parts += ["<figure>", to_svg(chart),
                  f"<figcaption>{escape(chart.title)}: burn rate of the "
                  "configured policy's windows (log scale) and its thresholds, alert spans of each "
                  "candidate, labelled incidents.</figcaption>", "</figure>"]
    for severity in tables.severities(result):
        scores = tables.score_rows(result, severity)
        parts += [f"<h3>{tables.SEVERITY_TITLES[severity]}</h3>",
                  *_table(tables.SCORE_HEADER, scores, tables.SCORE_NUMERIC)]
    parts += ["<h3>Candidates</h3>",
              *_table(tables.CANDIDATE_HEADER, tables.candidate_rows(result), frozenset()),
              "</section>"]
    return parts


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric: frozenset[int]) -> list[str]:
    head = "".join(f"<th>{escape(cell)}</th>" for cell in header)
    body = ["<tr>" + "".join(f'<td class="number">{escape(cell)}</td>' if i in numeric
                             else f"<td>{escape(cell)}</td>" for i, cell in enumerate(row)) + "</tr>"
            for row in rows]
    return ['<table class="scores">', f"<tr>{head}</tr>", *body, "</table>"]
