"""What the API answers to requests that are not HTTP enough to reach a handler.

aiohttp answers a malformed request (a bad request line, an over-long URL or header, too many
headers, a negative Content-Length) with `text/plain` and logs a traceback at ERROR for each:
any unauthenticated client could fill the worker's log. Here such a request gets the API's
JSON error shape, and the log one warning line per interval with a count.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import orjson
from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from streams.runtime.kafka.logs import Repeats

# One line per 10 s, saying how many like it were held back: any client can send these.
log = logging.getLogger("streams.runtime.api.malformed")
log.addFilter(Repeats())


class _EdgeHandler(RequestHandler):
    def handle_error(self, request: BaseRequest, status: int = 500,
                     exc: BaseException | None = None, message: str | None = None) -> web.Response:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "error"
        log.warning("malformed HTTP request from %s: %d %s", request.remote, status,
                    type(exc).__name__ if exc is not None else phrase)
        if request.writer.output_size > 0:
            raise ConnectionError("the response had started: the connection is closed")
        error = "malformed HTTP request" if status < 500 else "internal error"
        response = web.Response(status=status, content_type="application/json",
                                body=orjson.dumps({"error": f"{error} ({status} {phrase})"}))
        response.force_close()
        return response


class _EdgeServer(web.Server):
    def __call__(self) -> RequestHandler:
        return _EdgeHandler(self, loop=self._loop, **self._kwargs)


class EdgeRunner(web.AppRunner):
    """An AppRunner whose connections answer malformed requests as the API does."""

    async def _make_server(self) -> web.Server:
        server: Any = await super()._make_server()
        server.__class__ = _EdgeServer  # aiohttp builds its Server inside the Application
        return server  # type: ignore[no-any-return]
