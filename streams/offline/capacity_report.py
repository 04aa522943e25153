"""The capacity report: per service, the hourly history, the forecast band, the usable
capacity and the exhaustion dates, as Markdown (charts as SVG files beside it) or as one
self-contained HTML page (charts inline). Nothing is fetched from elsewhere."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

import numpy as np

from streams.domain.capacity.history import HOUR
from streams.domain.capacity.runway import DAY, Assessment
from streams.domain.timestamps import format_ts
from streams.tune.reports.chart import INK, Chart, Line, Polyline, Rect, Shape, Text
from streams.tune.reports.svg import to_svg

WIDTH, HEIGHT = 1000, 320
_LEFT, _RIGHT, _TOP, _BOTTOM = 80, 20, 40, 40
HISTORY, FORECAST, BAND, CAPACITY, EXHAUSTED, NOW = ("#1f77b4", "#222222", "#9ecae1", "#d62728",
                                                     "#ff7f0e", "#7f7f7f")


@dataclass(frozen=True, slots=True)
class ReportInputs:
    slos: str
    events: str
    events_read: int


def name_of(assessment: Assessment) -> str:
    plan = assessment.plan
    return plan.service if plan.resource is None else f"{plan.service} {plan.resource}"


def _days(value: float | None) -> str:
    return "lasts the horizon" if value is None else f"{value:.1f} d"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def capacity_chart(assessment: Assessment) -> Chart:
    """History (blue), p50 forecast (black) over its p10-p90 band (shaded), usable capacity
    (red, dashed), now (grey) and the exhaustion dates (orange)."""
    known = np.isfinite(assessment.history)
    times = (assessment.history_start + np.flatnonzero(known)) * HOUR
    history = list(zip(times.tolist(), assessment.history[known].tolist(), strict=True))
    start = history[0][0] if history else assessment.at
    end = assessment.at + assessment.plan.horizon
    top: float = max([float(v) for _, v in history] + [p.p90 for p in assessment.forecast]
              + [assessment.usable_capacity or 0.0, 1e-9]) * 1.08
    plot_w = WIDTH - _LEFT - _RIGHT
    plot_h = HEIGHT - _TOP - _BOTTOM

    def x(t: float) -> float:
        return _LEFT + (t - start) / max(end - start, 1.0) * plot_w

    def y(v: float) -> float:
        return _TOP + plot_h - v / top * plot_h

    shapes: list[Shape] = [
        Line(_LEFT, _TOP + plot_h, WIDTH - _RIGHT, _TOP + plot_h, INK, "axis"),
        Line(_LEFT, _TOP, _LEFT, _TOP + plot_h, INK, "axis"),
        Text(_LEFT - 6, y(top / 1.08) + 4, _number(top / 1.08), "axis-label", anchor="end"),
        Text(_LEFT - 6, _TOP + plot_h + 4, "0", "axis-label", anchor="end"),
        Text(_LEFT, HEIGHT - 12, format_ts(start)[:10], "axis-label"),
        Text(WIDTH - _RIGHT, HEIGHT - 12, format_ts(end)[:10], "axis-label", anchor="end"),
    ]
    day_w = plot_w * DAY / max(end - start, 1.0)
    for point in assessment.forecast:
        day_start = point.at - point.at % DAY
        shapes.append(Rect(x(day_start), y(point.p90), max(day_w, 1.0),
                           max(y(point.p10) - y(point.p90), 0.5), BAND, "band", opacity=0.6,
                           tooltip=f"{format_ts(point.at)[:10]}: p10 {point.p10:,.1f}, "
                                   f"p50 {point.p50:,.1f}, p90 {point.p90:,.1f}"))
    if history:
        shapes.append(Polyline(tuple((x(t), y(v)) for t, v in history), HISTORY, "history",
                               width=1.0))
    if assessment.forecast:
        shapes.append(Polyline(tuple((x(p.at), y(p.p50)) for p in assessment.forecast),
                               FORECAST, "forecast"))
    shapes.append(Line(x(assessment.at), _TOP, x(assessment.at), _TOP + plot_h, NOW, "now",
                       dashed=True))
    if assessment.usable_capacity is not None:
        level = y(assessment.usable_capacity)
        shapes += [Line(_LEFT, level, WIDTH - _RIGHT, level, CAPACITY, "capacity", width=1.5,
                        dashed=True),
                   Text(WIDTH - _RIGHT - 4, level - 4,
                        f"usable {assessment.usable_capacity:,.0f}", "capacity-label",
                        colour=CAPACITY, anchor="end")]
    for bound, when in (("p50", assessment.exhausted_at.p50), ("p90", assessment.exhausted_at.p90)):
        if when is not None:
            shapes += [Line(x(when), _TOP, x(when), _TOP + plot_h, EXHAUSTED, f"exhausted-{bound}",
                            width=1.5),
                       Text(x(when) + 3, _TOP + (12 if bound == "p90" else 26),
                            f"{bound}: full {format_ts(when)[:10]}", "exhausted-label",
                            colour=EXHAUSTED)]
    title = f"{name_of(assessment)}: {assessment.status.value}"
    shapes.append(Text(_LEFT, 20, title, "title", size=14))
    return Chart(title, WIDTH, HEIGHT, tuple(shapes))


def _rows(assessments: Sequence[Assessment]) -> list[list[str]]:
    return [[name_of(a), a.plan.unit or "", a.status.value, _number(a.usable_capacity),
             _number(a.peak_now),
             "-" if a.growth_per_day is None else f"{a.growth_per_day:+.2%}/d",
             *((_days(a.runway_days.p50), _days(a.runway_days.p90))
               if a.usable_capacity is not None and a.forecast else ("-", "-")),
             format_ts(a.exhausted_at.p90)[:10] if a.exhausted_at.p90 is not None else "-",
             f"{a.plan.lead_time / DAY:g} d"]
            for a in assessments]


_HEADER = ["service", "unit", "status", "usable", "peak now", "growth", "runway p50",
           "runway p90", "full (p90)", "lead time"]


def markdown_report(at: float, assessments: Sequence[Assessment], inputs: ReportInputs,
                    images: Sequence[str | None]) -> str:
    """`images[i]` is the file name of the chart of `assessments[i]` (None: no chart)."""
    lines = [f"# Capacity at {format_ts(at)}", "",
             f"SLO file `{inputs.slos}`, events `{inputs.events}` ({inputs.events_read:,} read). "
             "Most urgent first; the status follows the p90 (pessimistic) runway against the "
             "lead time: `critical` under it, `warn` under twice it.", "",
             "| " + " | ".join(_HEADER) + " |", "|" + "---|" * len(_HEADER)]
    lines += ["| " + " | ".join(row) + " |" for row in _rows(assessments)]
    for assessment, image in zip(assessments, images, strict=True):
        lines += ["", f"## {name_of(assessment)}", ""]
        if image is not None:
            lines += [f"![{name_of(assessment)}]({image})", ""]
        lines += _details(assessment)
    return "\n".join(lines) + "\n"


def _details(a: Assessment) -> list[str]:
    coverage = "-" if a.coverage_p10_p90 is None else f"{a.coverage_p10_p90:.0%}"
    mape = "-" if a.mape is None else f"{a.mape:.1%}"
    lines = [f"- backtest: p10-p90 covered {coverage} of held-out hours, mean absolute "
             f"error {mape}"]
    lines += [f"- launch {launch.name}: x{launch.factor:g} from {format_ts(launch.at)}"
              for launch in a.plan.launches]
    lines += [f"- warning: {warning}" for warning in a.warnings]
    return lines


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1040px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 14px; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; }
th { background: #f2f2f2; }
.critical { color: #d62728; font-weight: 600; } .warn { color: #b35900; font-weight: 600; }
figure { margin: 1em 0; overflow-x: auto; }
"""


def html_report(at: float, assessments: Sequence[Assessment], inputs: ReportInputs) -> str:
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             f"<title>Capacity at {format_ts(at)}</title>", f"<style>{_STYLE}</style>", "</head>",
             "<body>", f"<h1>Capacity at {escape(format_ts(at))}</h1>",
             f"<p>SLO file <code>{escape(inputs.slos)}</code>, events "
             f"<code>{escape(inputs.events)}</code> ({inputs.events_read:,} read). Most urgent "
             "first; the status follows the p90 (pessimistic) runway against the lead time.</p>",
             "<table>", "<tr>" + "".join(f"<th>{escape(h)}</th>" for h in _HEADER) + "</tr>"]
    for a, row in zip(assessments, _rows(assessments), strict=True):
        cells = "".join(f'<td class="{a.status.value}">{escape(c)}</td>' if i == 2
                        else f"<td>{escape(c)}</td>" for i, c in enumerate(row))
        parts.append(f"<tr>{cells}</tr>")
    parts.append("</table>")
    for a in assessments:
        parts.append(f"<h2>{escape(name_of(a))}</h2>")
        if np.isfinite(a.history).any():
            parts += ["<figure>", to_svg(capacity_chart(a)), "</figure>"]
        parts.append("<ul>")
        parts += [f"<li>{escape(line[2:])}</li>" for line in _details(a)]
        parts.append("</ul>")
    parts += ["</body>", "</html>"]
    return "\n".join(parts) + "\n"
