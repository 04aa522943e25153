"""The pages' routes on the worker's HTTP API.

Pages read the incident leader's state, so they go through the API's routing to the leader
(`ApiService._on_leader`): any worker serves every page. Assets are served by each worker from
the package. `?partial=1` answers only a page's `<main>` (what the refresh script polls), and
`/v1/overview` the overview's rows as JSON.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from html import escape
from importlib import resources
from typing import Protocol

import orjson
from aiohttp import web

from streams.domain.history import HistoryBook
from streams.domain.incidents.book import IncidentBook
from streams.domain.policy import PolicyBook
from streams.domain.slo.model import SloFile
from streams.web import pages
from streams.web.layout import page
from streams.web.overview import rows, select

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ASSETS = {"style.css": "text/css", "refresh.js": "text/javascript"}


class Leader(Protocol):
    """What the pages need of the incident service."""

    @property
    def policies(self) -> PolicyBook | None: ...

    @property
    def book(self) -> IncidentBook | None: ...

    @property
    def history(self) -> HistoryBook | None: ...


def _asset(name: str) -> bytes:
    return (resources.files("streams.web") / "assets" / name).read_bytes()


class Pages:
    """The handlers of the pages of one worker."""

    def __init__(self, slo_file: SloFile, leader: Leader,
                 sections: list[Callable[[pages.PageData], str | None]] | None = None) -> None:
        self.slo_file = slo_file
        self.leader = leader
        self.sections = sections if sections is not None else []
        self.assets = {name: _asset(name) for name in ASSETS}  # read once, at start

    def data(self) -> pages.PageData:
        policies = self.leader.policies
        if policies is None:
            raise web.HTTPServiceUnavailable(reason="leadership moved; retry")
        return pages.PageData(self.slo_file, policies, self.leader.book, self.leader.history,
                              self.sections)

    @staticmethod
    def refresh(request: web.Request, default: int) -> int:
        """Seconds between refreshes: `?refresh=N` (at least 2; 0 for none) or the page's."""
        asked = request.query.get("refresh", "")
        if not asked.isdigit():
            return default
        return 0 if int(asked) == 0 else max(2, min(int(asked), 3600))

    @staticmethod
    def _html(request: web.Request, whole: str, main: str, status: int = 200) -> web.Response:
        body = main if request.query.get("partial") == "1" else whole
        return web.Response(text=body, status=status, content_type="text/html", charset="utf-8",
                            headers={"Cache-Control": "no-store"})

    async def overview(self, request: web.Request) -> web.StreamResponse:
        data = self.data()
        main = pages.overview(data, request.query)
        whole = page("SLOs", main, active="/", refresh=self.refresh(request, 15))
        return self._html(request, whole, main)

    async def overview_json(self, request: web.Request) -> web.StreamResponse:
        data = self.data()
        chosen = select(rows(data.slo_file, data.policies, data.book), request.query)
        return web.Response(body=orjson.dumps({"rows": [r.to_json() for r in chosen]}),
                            content_type="application/json")

    async def slo(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        main = pages.slo(self.data(), name, request.query)
        if main is None:
            return self._not_found(request, f"no SLO {name!r}")
        return self._html(request, page(name, main, refresh=self.refresh(request, 30)), main)

    async def incidents(self, request: web.Request) -> web.StreamResponse:
        main = pages.incidents(self.data())
        return self._html(request, page("Incidents", main, active="/incidents",
                                                  refresh=self.refresh(request, 15)), main)

    async def incident(self, request: web.Request) -> web.StreamResponse:
        ident = request.match_info["id"]
        main = pages.incident(self.data(), ident)
        if main is None:
            return self._not_found(request, f"no incident {ident!r}")
        return self._html(request, page(ident, main, active="/incidents",
                                                  refresh=self.refresh(request, 15)), main)

    def _not_found(self, request: web.Request, what: str) -> web.Response:
        main = f"<h1>Not found</h1><p>{escape(what)}</p><p><a href=\"/\">all SLOs</a></p>"
        return self._html(request, page("Not found", main, refresh=0), main, 404)

    async def asset(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in self.assets:
            raise web.HTTPNotFound(reason=f"no asset {name!r}")
        return web.Response(body=self.assets[name], content_type=ASSETS[name],
                            headers={"Cache-Control": "max-age=300"})


def add_pages(app: web.Application, pages_: Pages,
              on_leader: Callable[[Handler], Handler]) -> None:
    """Register the pages (through `on_leader`) and their assets."""
    for path, handler in (("/", pages_.overview), ("/slos/{name}", pages_.slo),
                          ("/incidents", pages_.incidents), ("/incidents/{id}", pages_.incident),
                          ("/v1/overview", pages_.overview_json)):
        app.router.add_get(path, on_leader(handler))
    app.router.add_get("/assets/{name}", pages_.asset)
