"""The frame every page shares, and how numbers, times and durations read on them.

Pages are HTML strings built here and escaped here: no template engine, nothing fetched. The
page's own CSS and script come from `/assets/` (package data), and a Content-Security-Policy
that allows only this origin is part of the page itself, so it holds behind a forwarding worker.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from html import escape
from urllib.parse import urlencode

from streams.domain.timestamps import format_ts

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'")
NAV = (("/", "SLOs"), ("/incidents", "Incidents"))


def page(title: str, body: str, *, active: str = "/", refresh: int = 15) -> str:
    """A whole page; `refresh` seconds between refreshes of its `<main>` by the script
    (0: none)."""
    current = ' class="active"'
    nav = "".join(f'<a href="{href}"{current if href == active else ""}>{name}</a>'
                  for href, name in NAV)
    return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)} · sre-streams</title>"
            '<link rel="stylesheet" href="/assets/style.css">'
            '<link rel="icon" href="data:,">'
            '<script src="/assets/refresh.js" defer></script></head><body>'
            f'<header><span class="brand">sre-streams</span><nav>{nav}</nav></header>'
            f'<main data-refresh="{refresh}">{body}</main></body></html>')


def pct(value: float | None, digits: int = 1) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{100 * value:.{digits}f}%"


def objective(value: float) -> str:
    text = f"{100 * value:.4f}".rstrip("0").rstrip(".")
    return f"{text}%"


def number(value: float | int | None, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:,.{digits}f}"


def rate(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.2f}×" if value < 100 else f"{value:,.0f}×"


def duration(seconds: float | None) -> str:
    """Roughly, for people: `3 d 4 h`, `2 h 5 min`, `40 s`."""
    if seconds is None or not math.isfinite(seconds):
        return "–"
    seconds = max(0, round(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min" if minutes else f"{secs} s"


def when(t: float | str | None) -> str:
    if t is None:
        return "–"
    text = t if isinstance(t, str) else format_ts(t)
    return escape(text[:19].replace("T", " "))


def series_text(series: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(series.items())) or "(one series)"


def link(href: str, text: str) -> str:
    return f'<a href="{escape(href)}">{escape(text)}</a>'


def query_link(base: str, query: Mapping[str, str], **change: str) -> str:
    merged = {k: v for k, v in {**query, **change}.items() if v and k != "partial"}
    return base + ("?" + urlencode(merged) if merged else "")


def table(head: Iterable[str], rows: Iterable[Iterable[str]], css: str = "") -> str:
    """A table whose cells are HTML already (escape before)."""
    header = "".join(f"<th>{h}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return (f'<table class="{css}"><thead><tr>{header}</tr></thead>'
            f"<tbody>{body}</tbody></table>")


def badge(text: str, kind: str | None = None) -> str:
    return f'<span class="badge {escape(kind or text).replace(" ", "-")}">{escape(text)}</span>'
