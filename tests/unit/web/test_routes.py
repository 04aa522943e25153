"""The pages' routes on an aiohttp app: HTML with its charset, partial answers, the refresh
interval, assets from the package, HTML 404s, and 503 while no leader state is held."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from streams.domain.history import HistoryBook
from streams.domain.incidents.book import IncidentBook
from streams.domain.policy import PolicyBook
from streams.web.routes import Handler, Pages, add_pages
from tests.unit.runtime.incidents.conftest import SLOS


@dataclass
class Leader:
    policies: PolicyBook | None
    book: IncidentBook | None
    history: HistoryBook | None


def as_is(handler: Handler) -> Handler:
    return handler


async def answers(leader: Leader, *paths: str) -> list[tuple[int, str, str]]:
    app = web.Application()
    add_pages(app, Pages(SLOS, leader), as_is)
    async with TestClient(TestServer(app)) as client:
        found = []
        for path in paths:
            response = await client.get(path)
            found.append((response.status, response.headers.get("Content-Type", ""),
                          await response.text()))
        return found


def test_pages_assets_partials_and_not_found() -> None:
    leader = Leader(PolicyBook(SLOS), IncidentBook(SLOS.incidents), HistoryBook({}))
    (whole, partial, slow, css, js, missing, no_slo, no_asset) = asyncio.run(answers(
        leader, "/", "/?partial=1", "/incidents?refresh=1", "/assets/style.css",
        "/assets/refresh.js", "/incidents/nope", "/slos/nope", "/assets/nope.js"))
    assert whole[0] == 200 and whole[1] == "text/html; charset=utf-8"
    assert whole[2].startswith("<!doctype html>") and 'data-refresh="15"' in whole[2]
    assert "no data" in whole[2]  # the SLO has no snapshot yet
    assert partial[0] == 200 and partial[2].startswith("<h1>SLOs</h1>") and "<html" not in partial[2]
    assert 'data-refresh="2"' in slow[2]  # at least 2 s
    assert css[0] == 200 and css[1].startswith("text/css") and "svg" in css[2]
    assert js[0] == 200 and "data-refresh" in js[2]
    assert missing[0] == 404 and "no incident &#x27;nope&#x27;" in missing[2] and "<html" in missing[2]
    assert no_slo[0] == 404 and no_asset[0] == 404


def test_without_the_leaders_state_the_pages_ask_to_retry() -> None:
    [(status, _, _)] = asyncio.run(answers(Leader(None, None, None), "/"))
    assert status == 503
