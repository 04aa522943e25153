"""The web pages in real headless Chromium, on a worker that replayed an outage: SLOs and series
listed with their budgets, the burn-down through the outage, the incident linked, no console
error, no request leaving 127.0.0.1; after SIGKILL and a restart, the same chart."""

from __future__ import annotations

import asyncio
import re
import shutil
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest

from streams.domain.timestamps import parse_ts
from tests.integration.browser import Page, chromium
from tests.integration.conftest import T0, Live, kill, produce, scenario, wait_for

pytestmark = pytest.mark.integration

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
OUTAGE = T0 + 40 * 60  # the preset's outage: 15 minutes from a third of the two hours
LAST = "2026-11-23T01:59:00.000Z"  # the last budget snapshot of the replay
SLO_FILE = """apiVersion: sre-streams/v1
defaults: {window: 30d, min_events: 1000}
slos:
  - name: checkout-availability
    service: checkout
    objective: 99.9%
    sli: {availability: {bad_status: ["5xx", 429]}}
    labels: {team: payments}
  - name: search-availability
    service: search
    objective: 99%
    sli: {availability: {}}
    group_by: [region]
    labels: {team: discovery}
"""
WHY = "the web pages are opened in headless Chromium in this test"

# What the pages show, read in the browser (after any script has run).
READ_OVERVIEW = """(() => [...document.querySelectorAll('table.overview tbody tr')].map(tr =>
  [...tr.querySelectorAll('td')].map(td => td.innerText.trim())))()"""
READ_CHART = """(() => { const line = document.querySelector('svg.burn-down polyline.remaining');
  return line && {t0: +line.dataset.t0, t1: +line.dataset.t1, n: +line.dataset.n,
                  points: line.getAttribute('points'),
                  incidents: [...document.querySelectorAll('svg.burn-down a')].map(a =>
                    a.getAttribute('href'))}; })()"""


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


def overview_rows(live: Live, name: str) -> list[dict[str, Any]]:
    status, body = get(f"{live.api[name]}/v1/overview")
    return list(orjson.loads(body)["rows"]) if status == 200 else []


def replayed(live: Live, name: str) -> bool:
    """Every series at the replay's last snapshot, and the checkout incident opened."""
    found = overview_rows(live, name)
    return (len(found) == 3 and all(r["at"] == LAST for r in found)
            and get(f"{live.api[name]}/incidents")[1].count(b'href="/incidents/') >= 1)


async def visit(page: Page, url: str, shot: str) -> None:
    await page.open(url)
    await page.screenshot(ARTIFACTS / shot)


def test_the_pages_show_budgets_the_burn_down_and_the_incident_in_chromium(
    live_factory: Callable[..., Live], tmp_path: Path,
) -> None:
    slos = tmp_path / "slos.yaml"
    slos.write_text(SLO_FILE)
    live = live_factory(slos, SRE_IDLE_TIMEOUT="10m")
    live.start_worker("w1")
    events, _ = scenario(tmp_path, cut=T0 + 3 * 3600)  # every event of the two hours
    produce(live, events)
    wait_for(lambda: replayed(live, "w1"), 120, live, f"every series at {LAST} and an incident")
    base = live.api["w1"]
    before: dict[str, Any] = {}

    async def browse() -> None:
        async with chromium(tmp_path / "profile", WHY) as page:
            await visit(page, base + "/", "web-overview.png")
            table = await page.evaluate(READ_OVERVIEW)
            await visit(page, base + "/slos/checkout-availability", "web-slo.png")
            before.update(await page.evaluate(READ_CHART))
            incident = before["incidents"][0]
            await visit(page, base + incident, "web-incident.png")
            heading = await page.evaluate("document.querySelector('h1').innerText")
            draft = await page.evaluate("document.querySelector('pre.postmortem').innerText")
            await visit(page, base + "/?service=search&sort=budget", "web-overview-search.png")
            filtered = await page.evaluate(READ_OVERVIEW)
            await page.open(base + "/incidents?refresh=2")
            listing = await page.evaluate("[...document.querySelectorAll('a')].map(a => "
                                          "a.getAttribute('href'))")
            refreshed = None
            for _ in range(50):  # the script polls every 2 s here
                refreshed = await page.evaluate("document.querySelector('main').dataset.refreshed")
                if refreshed:
                    break
                await asyncio.sleep(0.2)
            errors, requests = page.errors, page.requests
        # The overview: every series with its budget, as a share and as bad events.
        by_series = {(row[1], row[3]): row for row in table}
        assert set(by_series) == {("checkout-availability", "(one series)"),
                                  ("search-availability", "region=eu"),
                                  ("search-availability", "region=us")}, table
        checkout = by_series[("checkout-availability", "(one series)")]
        assert re.fullmatch(r"-?[\d.]+%", checkout[6]), checkout  # budget left
        assert re.fullmatch(r"[\d,]+ of [\d,]+", checkout[7]), checkout  # bad: used of allowed
        assert checkout[6].startswith("-"), "the outage overspent the checkout budget"
        assert table[0][1] == "checkout-availability", "the most urgent first"
        assert {row[1] for row in filtered} == {"search-availability"}
        # The chart: a point a minute through the outage, the incident linked from it.
        assert before["t0"] <= OUTAGE and before["t1"] == parse_ts(LAST)
        assert before["n"] >= 100, before["n"]
        assert incident.startswith("/incidents/") and incident in listing
        assert heading and "checkout" in draft.lower()
        assert refreshed, "the page's script refreshed <main> from the worker"
        # Nothing went wrong and nothing left the worker.
        assert errors == [], errors
        outside = [u for u in requests if not u.startswith("data:")
                   and urlsplit(u).hostname != "127.0.0.1"]
        assert requests and outside == [], outside

    asyncio.run(browse())
    status, partial = get(base + "/?partial=1")
    assert status == 200 and partial.startswith(b"<h1>") and b"<html" not in partial

    # SIGKILL, restart: the chart comes back with the same history.
    kill(live, 0)
    live.start_worker("w1")
    after: dict[str, Any] = {}

    def chart_back() -> bool:
        status, body = get(live.api["w1"] + "/slos/checkout-availability")
        return status == 200 and b'class="remaining"' in body

    wait_for(chart_back, 120, live, "the SLO page after the restart")

    async def again() -> None:
        async with chromium(tmp_path / "profile2", WHY) as page:
            await visit(page, live.api["w1"] + "/slos/checkout-availability",
                        "web-slo-after-restart.png")
            after.update(await page.evaluate(READ_CHART))
            assert page.errors == [], page.errors

    asyncio.run(again())
    assert after == before
    shutil.copy(live.workdir / "w1.log", ARTIFACTS / "web-worker.log")
