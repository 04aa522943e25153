"""The HTTP API's own rules, in process: disabled mutations, bounded metric labels."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from streams.domain.engine.reasons import reason_class
from streams.domain.slo.loader import parse_slo_text
from streams.runtime.api import ApiService
from streams.runtime.settings import Settings

SLO_FILE = """apiVersion: sre-streams/v1
slos:
  - name: checkout-availability
    service: checkout
    objective: 0.999
    sli: {availability: {}}
"""


def test_mutating_endpoints_are_disabled_when_no_token_is_configured() -> None:
    async def run() -> tuple[int, dict[str, Any]]:
        nobody = SimpleNamespace(leading=False, leader_url=None, policies=None, book=None,
                                 processors={})
        api = ApiService(Settings.load({"api_token": None}, environ={}),
                         parse_slo_text(SLO_FILE), nobody, nobody)  # type: ignore[arg-type]
        async with TestClient(TestServer(api.web_app())) as client:
            response = await client.post("/v1/gates/checkout/overrides",
                                         json={"approver": "a", "reason": "r",
                                               "expires_at": "2099-01-01T00:00:00Z"},
                                         headers={"Authorization": "Bearer anything"})
            return response.status, await response.json()

    status, body = asyncio.run(run())
    assert status == 403
    assert "SRE_API_TOKEN" in body["error"]


def test_dead_letter_reasons_lose_their_particulars_in_metric_labels() -> None:
    assert reason_class("unknown SLO 'checkout-x'") == "unknown SLO"
    assert reason_class("message over the size limit (2000000 > 1048576 bytes)") == (
        "message over the size limit")
    assert reason_class("invalid JSON: unexpected character: line 1 column 2") == "invalid JSON"
    assert reason_class("too old") == "too old"
