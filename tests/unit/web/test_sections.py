"""The overview's capacity and toil sections: shown when configured, from the leader's state,
which reads capacity events back from `sre.capacity` and keeps them across a restart."""

from __future__ import annotations

import time
from types import SimpleNamespace

import msgspec
import orjson

from streams.domain.slo.loader import parse_slo_text
from streams.domain.toil.ledger import WorkItem
from streams.domain.toil.live import LiveToil
from streams.runtime.incidents.processor import IncidentProcessor
from streams.runtime.incidents.state import IncidentState
from streams.web.pages import PageData, overview_page
from streams.web.sections import capacity_section, toil_section
from tests.unit.conftest import T0
from tests.unit.runtime.capacity_events import EVENTS
from tests.unit.runtime.incidents.conftest import FILE, SETTINGS

CONFIGURED = parse_slo_text(FILE + """capacity:
  - {service: checkout, per_instance: 100, instances: 12, lead_time: 30d}
toil:
  cap: 0.5
  teams: [{name: payments, people: 1, hours_per_week: 40}]
""")


def page(slo_file, leader) -> str:  # type: ignore[no-untyped-def]
    state = IncidentState.empty(slo_file)
    data = PageData(slo_file, state.policies, state.book, state.history,
                    [capacity_section(leader), toil_section(leader)])
    return overview_page(data, {})


def test_sections_appear_only_when_configured() -> None:
    leader = SimpleNamespace(capacity=EVENTS, toil=None)
    plain = parse_slo_text(FILE)
    assert "Capacity" not in page(plain, leader) and "Toil" not in page(plain, leader)
    html = page(CONFIGURED, leader)
    assert "Capacity runway" in html and "No work logged on sre.toil yet" in html
    # most urgent first, with both bounds
    assert html.index(">checkout<") < html.index(">catalog<") < html.index(">search<")
    assert "9.5 d (p90) · 12.0 d (p50)" in html


def test_the_toil_section_shows_each_team_against_its_cap() -> None:
    toil = LiveToil(CONFIGURED.toil)
    for day in range(10):
        toil.add(WorkItem(T0 + day * 86400, "payments", "ana", "restart consumer", 600, "toil"))
    html = page(CONFIGURED, SimpleNamespace(capacity=[], toil=toil))
    assert "Toil, last 28 days (cap 50%)" in html
    # 10 × 10 h of 1 person × 40 h × 4 weeks: 62.5%, over the cap
    assert "payments" in html and "62.5%" in html and "over cap" in html
    assert "100.0 h of 160 h" in html and "restart consumer" in html
    assert "No forecast yet" in html


def test_the_leader_keeps_the_latest_capacity_event_of_each_service_across_a_restart() -> None:
    processor = IncidentProcessor(CONFIGURED, SETTINGS.topics, 60)
    changelog: list[tuple[bytes, bytes | None]] = []
    older = msgspec.structs.replace(EVENTS[1], at="2026-12-01T09:00:00.000Z", peak_now=1.0)
    for offset, event in enumerate([older, *EVENTS]):
        step = processor.apply([(SETTINGS.topics.capacity, 0, offset,
                                 orjson.dumps(msgspec.to_builtins(event)))], time.time())
        changelog += processor.commit(step).messages()
    kept = processor.state.capacity
    assert len(kept) == 4 and kept["checkout/"] == EVENTS[1]
    restored = IncidentState.restored(CONFIGURED, list(dict(changelog).items()))
    assert restored.capacity == kept
