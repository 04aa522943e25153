"""What the API answers to requests that are not HTTP enough to reach a handler.

aiohttp answers a malformed request (a bad request line, an over-long URL or header, too many
headers, a negative Content-Length) with `text/plain` and logs a traceback at ERROR for each:
any unauthenticated client could fill the worker's log. Here such a request gets the API's
JSON error shape, and the log one warning line per interval with a count.
"""

from __future__ import annotations

import logging
import time
from http import HTTPStatus
from typing import Any

import orjson
from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

log = logging.getLogger("streams.runtime.api")


class RateLimitedWarning:
    """One warning line per `every` seconds, saying how many were held back."""

    def __init__(self, every: float = 10.0) -> None:
        self.every = every
        self.next_at = 0.0
        self.held = 0

    def __call__(self, message: str, *args: object) -> bool:
        """Log now if the interval has passed (returns True), else count it."""
        now = time.monotonic()
        if now < self.next_at:
            self.held += 1
            return False
        more = f" (and {self.held} more since the last)" if self.held else ""
        log.warning(message + more, *args)
        self.next_at, self.held = now + self.every, 0
        return True


malformed = RateLimitedWarning()


class _EdgeHandler(RequestHandler):
    def handle_error(self, request: BaseRequest, status: int = 500,
                     exc: BaseException | None = None, message: str | None = None) -> web.Response:
        phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "error"
        malformed("HTTP %d from %s: %s", status, request.remote,
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
