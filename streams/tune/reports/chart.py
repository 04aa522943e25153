"""The timeline chart of one SLO series as a list of shapes, drawn by the SVG renderer.

Top: burn rate of the configured policy's windows on a log scale, its thresholds dashed,
labelled incidents shaded, the warm-up greyed. Below: one lane per candidate policy with its
alert spans (pages red over tickets orange), and a lane of the labelled incidents.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from streams.domain.timestamps import format_ts
from streams.tune.incidents import SeriesLabels
from streams.tune.reports.humanize import factor
from streams.tune.scoring import AlertSpan
from streams.tune.tuning import SloResult

Anchor = Literal["start", "middle", "end"]

WIDTH = 1200
_LEFT, _RIGHT, _TOP = 190, 30, 48
_PLOT_HEIGHT, _AXIS_HEIGHT = 240, 30
_LANE, _LANE_GAP = 16, 6
_FLOOR = 0.1  # burn rates below this sit on the bottom edge of the log scale
CHAR_WIDTH = 7.0  # advance of a 12-px monospace character, for layout

WINDOW_COLOURS = ("#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#17becf", "#bcbd22", "#7f7f7f")
PAGE, TICKET, INCIDENT, WARM_UP, INK, GRID = ("#d62728", "#ff7f0e", "#6a3d9a", "#bbbbbb",
                                              "#222222", "#e5e5e5")
_TICK_STEPS = (600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400,
               14 * 86400, 30 * 86400)


@dataclass(frozen=True, slots=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    colour: str
    role: str
    width: float = 1.0
    dashed: bool = False


@dataclass(frozen=True, slots=True)
class Polyline:
    points: tuple[tuple[float, float], ...]
    colour: str
    role: str
    width: float = 1.5


@dataclass(frozen=True, slots=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    colour: str
    role: str
    opacity: float = 1.0
    tooltip: str | None = None


@dataclass(frozen=True, slots=True)
class Text:
    x: float
    y: float  # baseline
    text: str
    role: str
    colour: str = INK
    size: int = 12
    anchor: Anchor = "start"


Shape = Line | Polyline | Rect | Text


@dataclass(frozen=True)
class Chart:
    title: str
    width: int
    height: int
    shapes: tuple[Shape, ...]


def series_name(series: SeriesLabels) -> str:
    return "{" + ", ".join(f"{k}={v}" for k, v in series) + "}" if series else ""


def timeline_chart(result: SloResult, series: SeriesLabels, data: tuple[float, float]) -> Chart:
    """The chart of one series of an SLO over the whole data range."""
    lanes = [policy for policy in result.policies if policy.rules]
    legend_top = _TOP + _PLOT_HEIGHT + _AXIS_HEIGHT + (len(lanes) + 1) * (_LANE + _LANE_GAP) + 24
    legend = _legend(result.chart_windows, legend_top)
    height = round(max(shape.y for shape in legend if isinstance(shape, Text))) + 16
    frame = _Frame(data, _ceiling(result, series))
    title = f"{result.slo.name} {series_name(series)}".strip()
    shapes: list[Shape] = [Text(_LEFT, 26, f"{title}: burn rate (log scale), alert spans, labelled "
                                "incidents", "title", size=16)]
    shapes += _grid(frame)
    warm_up = frame.x(result.scored[0]) - _LEFT
    if warm_up > 0:
        shapes += [Rect(_LEFT, _TOP, warm_up, _PLOT_HEIGHT, WARM_UP, "warm-up", 0.35),
                   Text(_LEFT + 4, _TOP + 14, "warm-up: not scored", "warm-up-label",
                        colour="#666666")]
    incidents = [i for i in (*result.unscored, *result.incidents)
                 if i.covers(result.slo.name, series)]
    for incident in incidents:
        x1, x2 = frame.span(incident.start, incident.end)
        shapes.append(Rect(x1, _TOP, x2 - x1, _PLOT_HEIGHT, INCIDENT, "incident-band", 0.15))
    shapes += _burn_lines(result, series, frame)
    shapes += _thresholds(result, frame)
    top = _TOP + _PLOT_HEIGHT + _AXIS_HEIGHT
    shapes.append(Text(_LEFT - 8, top + _LANE - 3, "incidents", "lane-label", anchor="end"))
    for incident in incidents:
        x1, x2 = frame.span(incident.start, incident.end)
        shapes.append(Rect(x1, top, x2 - x1, _LANE, INCIDENT, "incident",
                           tooltip=f"incident {format_ts(incident.start)} .. {format_ts(incident.end)}"
                                   + (f": {incident.title}" if incident.title else "")))
    for lane, policy in enumerate(lanes, start=1):
        y = top + lane * (_LANE + _LANE_GAP)
        shapes.append(Text(_LEFT - 8, y + _LANE - 3, policy.candidate.name, "lane-label", anchor="end"))
        shapes.append(Rect(_LEFT, y, frame.right - _LEFT, _LANE, "#f4f4f4", "lane"))
        mine = [span for span in policy.spans if span.series == series]
        for span in sorted(mine, key=lambda s: s.severity == "page"):
            shapes.append(_span_rect(span, policy.candidate.name, frame, y))
    if warm_up > 0:  # alerts in the warm-up show faded: they are not scored
        bottom = top + (len(lanes) + 1) * (_LANE + _LANE_GAP)
        shapes.append(Rect(_LEFT, top, warm_up, bottom - top, "#ffffff", "warm-up", 0.6))
    return Chart(title, WIDTH, height, (*shapes, *legend))


class _Frame:
    """Maps event time to x and burn rate to y (log scale) inside the plot area."""

    def __init__(self, data: tuple[float, float], ceiling: float) -> None:
        self.start, self.end = data
        self.right = WIDTH - _RIGHT
        self.top_decade = math.log10(ceiling)
        self.low_decade = math.log10(_FLOOR)

    def x(self, t: float) -> float:
        span = max(self.end - self.start, 1.0)
        share = min(1.0, max(0.0, (t - self.start) / span))
        return _LEFT + share * (self.right - _LEFT)

    def span(self, start: float, end: float) -> tuple[float, float]:
        """x from start to end, at least 2 px wide so that short spans stay visible."""
        x1, x2 = self.x(start), self.x(end)
        return x1, max(x2, x1 + 2)

    def y(self, burn_rate: float) -> float:
        decade = math.log10(max(burn_rate, _FLOOR))
        share = (decade - self.low_decade) / (self.top_decade - self.low_decade)
        return _TOP + _PLOT_HEIGHT - min(1.0, share) * _PLOT_HEIGHT


def _ceiling(result: SloResult, series: SeriesLabels) -> float:
    """The top of the log scale: the next power of ten above every value drawn (at least 10)."""
    timeline = result.timelines.get(series)
    peak = max((max(values) for _, values in timeline.points()), default=0.0) if timeline else 0.0
    thresholds = [rule.factor(result.slo.window) for rule in result.slo.policy.rules]
    highest = max([peak, 10.0, *(2 * t for t in thresholds)])
    return float(10 ** math.ceil(math.log10(highest)))


def _grid(frame: _Frame) -> list[Shape]:
    shapes: list[Shape] = [Rect(_LEFT, _TOP, frame.right - _LEFT, _PLOT_HEIGHT, "#ffffff", "plot")]
    for decade in range(round(frame.low_decade), round(frame.top_decade) + 1):
        value = 10.0 ** decade
        y = frame.y(value)
        shapes.append(Line(_LEFT, y, frame.right, y, GRID, "grid"))
        shapes.append(Text(_LEFT - 8, y + 4, factor(value), "axis", anchor="end"))
    step = next((s for s in _TICK_STEPS if (frame.end - frame.start) / s <= 8), _TICK_STEPS[-1])
    tick = math.ceil(frame.start / step) * step
    label = "%m-%d" if step >= 86400 else "%m-%d %H:%M"
    while tick <= frame.end:
        x = frame.x(tick)
        text = time.strftime(label, time.gmtime(tick))
        half = CHAR_WIDTH * len(text) / 2
        # Labels at the edges are aligned to them rather than overflowing the image.
        anchor: Anchor = ("end" if x + half > WIDTH else "start" if x - half < _LEFT - 40
                          else "middle")
        shapes.append(Line(x, _TOP, x, _TOP + _PLOT_HEIGHT, GRID, "grid"))
        shapes.append(Text(x, _TOP + _PLOT_HEIGHT + 18, text, "axis", anchor=anchor))
        tick += step
    shapes.append(Text(_LEFT - 8, _TOP + _PLOT_HEIGHT + 18, "UTC", "axis", anchor="end"))
    return shapes


def _burn_lines(result: SloResult, series: SeriesLabels, frame: _Frame) -> list[Shape]:
    timeline = result.timelines.get(series)
    if timeline is None:
        return []
    points = timeline.points()
    return [
        Polyline(tuple((frame.x(t), frame.y(values[w])) for t, values in points),
                 WINDOW_COLOURS[w % len(WINDOW_COLOURS)], "burn-rate")
        for w in range(len(result.chart_windows))
    ]


def _thresholds(result: SloResult, frame: _Frame) -> list[Shape]:
    shapes: list[Shape] = []
    windows = list(result.chart_windows)
    for rule in result.slo.policy.rules:
        threshold = rule.factor(result.slo.window)
        colour = WINDOW_COLOURS[windows.index(rule.long_label) % len(WINDOW_COLOURS)]
        y = frame.y(threshold)
        shapes.append(Line(_LEFT, y, frame.right, y, colour, "threshold", dashed=True))
        shapes.append(Text(frame.right - 4, y - 3, f"{rule.name} {factor(threshold)}",
                           "threshold-label", colour=colour, anchor="end"))
    return shapes


def _span_rect(span: AlertSpan, policy: str, frame: _Frame, y: float) -> Rect:
    x1, x2 = frame.span(span.start, frame.end if span.end is None else span.end)
    until = "still firing at the end" if span.end is None else format_ts(span.end)
    return Rect(x1, y + 1, x2 - x1, _LANE - 2, PAGE if span.severity == "page" else TICKET,
                f"alert {span.severity}", tooltip=f"{policy} {span.rule}: {format_ts(span.start)} .. {until}")


def _legend(windows: Sequence[str], y: float) -> list[Shape]:
    """The legend's entries left to right, wrapping onto further rows at the right edge."""
    shapes: list[Shape] = []
    x = float(_LEFT)
    entries = [(f"burn rate {w}", WINDOW_COLOURS[i % len(WINDOW_COLOURS)], "line")
               for i, w in enumerate(windows)]
    entries += [("threshold", INK, "dash"), ("incident", INCIDENT, "box"), ("page", PAGE, "box"),
                ("ticket", TICKET, "box"), ("warm-up", WARM_UP, "box")]
    for label, colour, mark in entries:
        width = 24 + CHAR_WIDTH * len(label) + 18
        if x + width > WIDTH - _RIGHT:
            x, y = float(_LEFT), y + 20
        if mark == "box":
            shapes.append(Rect(x, y - 10, 18, 10, colour, "legend"))
        else:
            shapes.append(Line(x, y - 5, x + 18, y - 5, colour, "legend", width=2, dashed=mark == "dash"))
        shapes.append(Text(x + 24, y, label, "legend"))
        x += width
    return shapes
