"""Malformed HTTP gets the API's JSON error and at most a rate-limited warning line, never a
traceback; a client that goes away mid-body is not an error."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from types import SimpleNamespace

import orjson
import pytest
from aiohttp import web

from streams.domain.slo.loader import parse_slo_text
from streams.runtime import http_edges
from streams.runtime.api import ApiService
from streams.runtime.http_edges import EdgeRunner
from streams.runtime.kafka.local_broker import free_port
from streams.runtime.kafka.logs import Repeats
from streams.runtime.settings import Settings

SLO_FILE = parse_slo_text("""apiVersion: sre-streams/v1
slos:
  - {name: web, service: web, objective: 0.99, sli: {availability: {}}}
""")
MALFORMED = {
    "bad request line": b"GARBAGE\r\n\r\n",
    "100 KB URL": b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "20 KB header": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 20_000 + b"\r\n\r\n",
    "500 headers": b"GET /healthz HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(500))
                   + b"\r\n",
    "negative Content-Length": b"POST /v1/gates/web/overrides HTTP/1.1\r\nHost: x\r\n"
                               b"Content-Length: -5\r\n\r\n",
}


async def _exchange(port: int, raw: bytes, close_early: bool = False) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    await writer.drain()
    if close_early:
        writer.close()
        return b""
    data = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return data


async def _serve(requests: list[tuple[bytes, bool]]) -> list[bytes]:
    nobody = SimpleNamespace(leading=True, leader_url=None, policies=None, book=None,
                             processors={})
    api = ApiService(Settings.load({"api_token": "t"}, environ={}), SLO_FILE,
                     nobody, nobody)  # type: ignore[arg-type]
    runner = EdgeRunner(api.web_app(), access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        return [await _exchange(port, raw, early) for raw, early in requests]
    finally:
        await runner.cleanup()


@pytest.fixture(autouse=True)
def fresh_rate_limit() -> Iterator[None]:
    """Each test starts with the warning's interval unspent."""
    saved = http_edges.log.filters[:]
    http_edges.log.filters[:] = [Repeats()]
    yield
    http_edges.log.filters[:] = saved


def test_each_malformed_request_gets_a_json_400_and_the_log_one_warning(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    answers = asyncio.run(_serve([(raw, False) for raw in MALFORMED.values()]))
    for name, answer in zip(MALFORMED, answers, strict=True):
        head, _, body = answer.partition(b"\r\n\r\n")
        status = int(head.split(b" ")[1])
        assert 400 <= status < 500, (name, head)
        assert b"application/json" in head, (name, head)
        assert "malformed HTTP request" in orjson.loads(body)["error"], name
    logged = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(logged) == 1 and logged[0].levelno == logging.WARNING
    assert not any(r.exc_info for r in caplog.records if r.levelno >= logging.INFO)


def test_a_client_gone_mid_body_is_not_an_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    partial = (b"POST /v1/gates/web/overrides HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n"
               b"Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n{\"appro")
    asyncio.run(_serve([(partial, True), (b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                                          b"Connection: close\r\n\r\n", False)]))
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
