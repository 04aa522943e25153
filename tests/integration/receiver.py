"""A real HTTP receiver on loopback for notification tests: records requests, scripted answers."""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict
from typing import Any

import orjson
from aiohttp import web

from streams.runtime.local_broker import free_port


class HttpReceiver:
    """Answers POST /<path> with the statuses scripted for that path (then 202), in a thread."""

    def __init__(self) -> None:
        self.port = free_port()
        self.requests: dict[str, list[dict[str, Any]]] = defaultdict(list)  # accepted or not
        self.script: dict[str, list[int]] = defaultdict(list)
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def answer(self, path: str, *statuses: int) -> None:
        with self._lock:
            self.script[path] += list(statuses)

    def received(self, path: str, status: int | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.requests[path] if status is None or r["status"] == status]

    def __enter__(self) -> HttpReceiver:
        self._thread.start()
        assert self._ready.wait(10), "receiver did not start"
        return self

    def __exit__(self, *_: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/{path}", self._handle)
        runner = web.AppRunner(app)
        self._loop.run_until_complete(runner.setup())
        self._loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())

    async def _handle(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        body = orjson.loads(await request.read())
        with self._lock:
            status = self.script[path].pop(0) if self.script[path] else 202
            self.requests[path].append({"status": status, "body": body,
                                        "key": request.headers.get("Idempotency-Key")})
        return web.json_response({"status": "ok" if status < 300 else "error"}, status=status)
