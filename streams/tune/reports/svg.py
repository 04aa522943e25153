"""A chart as SVG, inline in the HTML report or a file beside the Markdown one.

Each shape's role becomes its class, so that a page can style it.
"""

from __future__ import annotations

from html import escape

from streams.tune.reports.chart import Chart, Line, Polyline, Rect, Shape, Text

_FONT = "DejaVu Sans Mono, Menlo, Consolas, monospace"


def to_svg(chart: Chart) -> str:
    legend = "\n".join(_shape(shape) for shape in chart.shapes if shape.role == "legend")
    rest = "\n".join(_shape(shape) for shape in chart.shapes if shape.role != "legend")
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{chart.width}" height="{chart.height}" '
            f'viewBox="0 0 {chart.width} {chart.height}" font-family="{_FONT}" role="img" '
            f'aria-label="{escape(chart.title)}">\n<title>{escape(chart.title)}</title>\n'
            f'<rect width="100%" height="100%" fill="#fafafa"/>\n{rest}\n'
            f'<g class="legend">\n{legend}\n</g>\n</svg>')


def _shape(shape: Shape) -> str:
    if isinstance(shape, Line):
        dash = ' stroke-dasharray="6 4"' if shape.dashed else ""
        return (f'<line class="{shape.role}" x1="{shape.x1:.1f}" y1="{shape.y1:.1f}" '
                f'x2="{shape.x2:.1f}" y2="{shape.y2:.1f}" stroke="{shape.colour}" '
                f'stroke-width="{shape.width:g}"{dash}/>')
    if isinstance(shape, Polyline):
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in shape.points)
        return (f'<polyline class="{shape.role}" points="{points}" fill="none" '
                f'stroke="{shape.colour}" stroke-width="{shape.width:g}" stroke-linejoin="round"/>')
    if isinstance(shape, Rect):
        tooltip = f"<title>{escape(shape.tooltip)}</title>" if shape.tooltip else ""
        opacity = f' fill-opacity="{shape.opacity:g}"' if shape.opacity < 1 else ""
        return (f'<rect class="{shape.role}" x="{shape.x:.1f}" y="{shape.y:.1f}" '
                f'width="{shape.width:.1f}" height="{shape.height:.1f}" fill="{shape.colour}"'
                f'{opacity}>{tooltip}</rect>')
    assert isinstance(shape, Text)
    return (f'<text class="{shape.role}" x="{shape.x:.1f}" y="{shape.y:.1f}" font-size="{shape.size}" '
            f'fill="{shape.colour}" text-anchor="{shape.anchor}">{escape(shape.text)}</text>')
