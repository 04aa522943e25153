"""The web pages from a leader's state: rows most urgent first, filters and sorts by query, the
burn-down chart through an outage, incidents linked, and nothing outside the worker referenced."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from streams.domain.timestamps import format_ts
from streams.web.layout import CSP
from streams.web.overview import exhaustion, rows, select
from streams.web.pages import PageData, incident_page, incidents_page, overview_page, slo_page
from tests.unit.conftest import T0
from tests.unit.runtime.incidents.conftest import SETTINGS, SLOS, page
from tests.unit.runtime.incidents.test_state import Leader

OUTAGE = T0 + 60 * 60  # an hour of calm, then 20 minutes burning the eu budget


def budget(region: str, minute: int) -> dict[str, object]:
    burning = region == "eu" and 60 <= minute < 80
    spent = 0.02 * max(0, min(minute, 80) - 60) if region == "eu" else 0.001 * minute / 60
    firing = ["page-fast"] if burning else []
    return {"kind": "budget", "version": 1, "slo": "checkout-availability",
            "service": "checkout", "series": {"region": region}, "at": format_ts(T0 + minute * 60),
            "objective": 0.999, "window": "30d", "good": 100_000 * minute - 40 * minute,
            "total": 100_000 * minute, "sli": 0.9996, "error_budget_remaining": 1.0 - spent,
            "burn_rates": {"1h": 30.0 if burning else 0.5, "6h": 5.0 if burning else 0.5,
                           "5m": 40.0 if burning else 0.5},
            "firing": firing, "labels": {}}


@pytest.fixture(scope="module")
def data() -> PageData:
    leader = Leader()
    topics = SETTINGS.topics
    for minute in range(0, 100):
        if minute == 58:
            leader.feed(topics.deploys, [{"ts": format_ts(T0 + minute * 60 + 1),
                                          "service": "checkout", "version": "v2.4.1"}])
        if minute == 62:
            leader.feed(topics.alerts, [page("eu", "firing", T0 + minute * 60)])
        leader.feed(topics.budgets, [budget(r, minute) for r in ("eu", "us")])
    state = leader.state
    return PageData(SLOS, state.policies, state.book, state.history)


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.ids: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src", "action", "xlink:href") and value is not None:
                self.urls.append(value)


def local_only(html: str) -> list[str]:
    parser = Links()
    parser.feed(html)
    assert parser.urls
    return [u for u in parser.urls if not (u.startswith("/") and not u.startswith("//"))
            and not u.startswith("data:")]


def test_the_burning_series_comes_first_with_its_budget_burn_and_incident(data: PageData) -> None:
    found = select(rows(data.slo_file, data.policies, data.book), {})
    # (the outage is over: nothing fires; the lower budget decides among equals)
    assert [(r.series, r.status) for r in found] == [({"region": "eu"}, "ok"),
                                                    ({"region": "us"}, "ok")]
    eu = found[0]
    assert eu.remaining == pytest.approx(0.6)
    assert eu.bad_used == 40 * 99 and eu.bad_allowed == pytest.approx(0.001 * 100_000 * 99)
    assert data.book is not None
    assert eu.incident in data.book.incidents and found[1].incident is None
    assert eu.gate == "ok" and eu.burn_1h == 0.5


def test_status_sorts_and_filters_follow_the_query(data: PageData) -> None:
    everything = rows(data.slo_file, data.policies, data.book)
    assert [r.series["region"] for r in select(everything, {"sort": "budget"})] == ["eu", "us"]
    assert [r.series["region"] for r in select(everything, {"sort": "budget",
                                                            "order": "desc"})] == ["us", "eu"]
    assert [r.series["region"] for r in select(everything, {"label": "region=us"})] == ["us"]
    assert select(everything, {"service": "search"}) == []
    assert [r.series["region"] for r in select(everything, {"q": "EU"})] == ["eu"]


def test_time_to_exhaustion_is_the_budget_left_over_the_burn_rate() -> None:
    assert exhaustion(0.5, 10.0, 30 * 86400) == pytest.approx(1.5 * 86400)
    assert exhaustion(-0.2, 10.0, 86400) == 0.0
    assert exhaustion(0.5, 0.0, 86400) is None and exhaustion(None, 1.0, 86400) is None


def test_the_overview_is_a_table_with_links_and_only_local_references(data: PageData) -> None:
    html = overview_page(data, {})
    assert "<table" in html and "/slos/checkout-availability" in html
    assert "region=eu" in html and "60.0%" in html
    assert local_only(html) == []
    assert CSP in html and "http://" not in html and "https://" not in html


def test_the_slo_page_charts_the_burn_down_through_the_outage_with_markers(data: PageData) -> None:
    html = slo_page(data, "checkout-availability", {})
    assert html is not None
    line = re.search(r'<polyline class="remaining" data-t0="([\d.]+)" data-t1="([\d.]+)" '
                     r'data-n="(\d+)" points="([^"]+)"', html)
    assert line is not None
    t0, t1, n = float(line[1]), float(line[2]), int(line[3])
    assert t0 == T0 and t1 == T0 + 99 * 60 and n == 100  # every minute, through the outage
    assert 'class="ideal"' in html
    assert 'class="marker deploy"' in html and 'class="marker alert"' in html
    assert re.search(r'<a href="/incidents/[^"]+"><line class="marker incident"', html)
    assert "page-fast" in html and "14.40×" in html  # the rules table: threshold 2% of 30d in 1h
    assert local_only(html) == []


def test_incident_pages_list_link_and_draft_the_postmortem(data: PageData) -> None:
    listing = incidents_page(data)
    assert data.book is not None
    ident = next(iter(data.book.incidents))
    assert f"/incidents/{ident}" in listing
    detail = incident_page(data, ident)
    assert detail is not None and "postmortem" in detail.lower() and "timeline" in detail
    assert incident_page(data, "nope") is None and slo_page(data, "nope", {}) is None


def test_text_from_the_stream_is_escaped(data: PageData) -> None:
    assert data.book is not None
    incident = next(iter(data.book.incidents.values()))
    incident.title = "<script>alert(1)</script>"
    try:
        assert "<script>alert" not in (incidents_page(data) + overview_page(data, {}))
    finally:
        incident.title = "restored"
