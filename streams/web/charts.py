"""Server-side SVG charts: the budget burn-down against the ideal line, and event rates.

Plain SVG in the page: no script, no library, nothing fetched. Each data line carries its
time range (`data-t0`, `data-t1`, epoch seconds) so a reader (or a test) can map x back to time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from itertools import pairwise

from streams.domain.history import Point
from streams.domain.timestamps import format_ts

WIDTH, HEIGHT = 760, 220
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 12, 28


@dataclass(frozen=True, slots=True)
class Marker:
    """A vertical line at an instant: a deploy, an alert firing, an incident opening."""

    t: float
    kind: str  # deploy, alert, incident
    label: str
    href: str | None = None


@dataclass(frozen=True, slots=True)
class Frame:
    """The plot area's mapping from (time, value) to pixels."""

    t0: float
    t1: float
    low: float
    high: float

    def x(self, t: float) -> float:
        span = self.t1 - self.t0 or 1.0
        return LEFT + (t - self.t0) / span * (WIDTH - LEFT - RIGHT)

    def y(self, value: float) -> float:
        span = self.high - self.low or 1.0
        return TOP + (self.high - value) / span * (HEIGHT - TOP - BOTTOM)


def _polyline(frame: Frame, points: Sequence[tuple[float, float]], css: str) -> str:
    if not points:
        return ""
    coordinates = " ".join(f"{frame.x(t):.1f},{frame.y(v):.1f}" for t, v in points)
    return (f'<polyline class="{css}" data-t0="{points[0][0]:.3f}" data-t1="{points[-1][0]:.3f}"'
            f' data-n="{len(points)}" points="{coordinates}"/>')


def _axes(frame: Frame, ticks: Sequence[float], fmt: str) -> list[str]:
    parts = [f'<line class="axis" x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" '
             f'y2="{HEIGHT - BOTTOM}"/>']
    drawn: list[float] = []
    # the range's ends first, then 0, then the rest
    for value in sorted(ticks, key=lambda v: (v not in (frame.low, frame.high), v != 0.0, v)):
        y = frame.y(value)
        if any(abs(y - other) < 14 for other in drawn):
            continue  # too close to a label already drawn
        drawn.append(y)
        parts.append(f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" '
                     f'y2="{y:.1f}"/><text class="tick" x="{LEFT - 4}" y="{y + 4:.1f}" '
                     f'text-anchor="end">{fmt.format(value)}</text>')
    for t, anchor in ((frame.t0, "start"), (frame.t1, "end")):
        parts.append(f'<text class="tick" x="{frame.x(t):.1f}" y="{HEIGHT - 8}" '
                     f'text-anchor="{anchor}">{format_ts(t)[:16].replace("T", " ")}</text>')
    return parts


def _markers(frame: Frame, markers: Sequence[Marker]) -> list[str]:
    parts = []
    for marker in markers:
        if not frame.t0 <= marker.t <= frame.t1:
            continue
        x = frame.x(marker.t)
        line = (f'<line class="marker {marker.kind}" x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" '
                f'y2="{HEIGHT - BOTTOM}"><title>{escape(marker.label)}</title></line>')
        if marker.href:
            line = f'<a href="{escape(marker.href)}">{line}</a>'
        parts.append(line)
    return parts


def burn_down(points: Sequence[Point], period: float, markers: Sequence[Marker] = (),
              title: str = "error budget remaining") -> str:
    """Budget remaining over the period so far, against the ideal line: spending the budget
    evenly over the period, from all of it at the start of the history shown to none a period
    later."""
    if not points:
        return '<p class="empty">no budget history yet</p>'
    start, end = points[0].t, points[-1].t
    t1 = max(end, start + 60.0)
    ideal_end = min(t1, start + period)
    ideal = [(start, 1.0), (ideal_end, 1.0 - (ideal_end - start) / period)]
    values = [p.remaining for p in points]
    frame = Frame(start, t1, min(0.0, min(values)), max(1.0, max(values)))
    ticks = sorted({frame.low, 0.0, 0.5, 1.0, frame.high})
    parts = [f'<svg class="chart burn-down" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'aria-label="{escape(title)}" data-t0="{start:.3f}" data-t1="{t1:.3f}">',
             f'<title>{escape(title)}</title>', *_axes(frame, ticks, "{:.0%}"),
             _polyline(frame, ideal, "ideal"),
             _polyline(frame, [(p.t, p.remaining) for p in points], "remaining"),
             *_markers(frame, markers), "</svg>"]
    return "".join(parts)


def event_rates(points: Sequence[Point], markers: Sequence[Marker] = ()) -> str:
    """Good and bad events per minute between consecutive points (the change of the period's
    counts: exact while the period fills, net of events leaving it after)."""
    good: list[tuple[float, float]] = []
    bad: list[tuple[float, float]] = []
    for before, after in pairwise(points):
        minutes = (after.t - before.t) / 60.0
        if minutes <= 0:
            continue
        good.append((after.t, max(0.0, (after.good - before.good) / minutes)))
        bad_before, bad_after = before.total - before.good, after.total - after.good
        bad.append((after.t, max(0.0, (bad_after - bad_before) / minutes)))
    if not good:
        return '<p class="empty">not enough history for rates yet</p>'
    high = max(max(v for _, v in good), max(v for _, v in bad), 1.0)
    frame = Frame(points[0].t, max(points[-1].t, points[0].t + 60.0), 0.0, high)
    parts = [f'<svg class="chart rates" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'aria-label="events per minute">', "<title>events per minute</title>",
             *_axes(frame, (0.0, high / 2, high), "{:,.0f}"),
             _polyline(frame, good, "good"), _polyline(frame, bad, "bad"),
             *_markers(frame, markers), "</svg>"]
    return "".join(parts)
