"""Calendar budget periods: local-midnight resets, DST weeks, and restarts across a boundary."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import msgspec
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.domain.engine.evaluation import Engine, EngineSettings
from streams.domain.slo.calendar import Calendar
from streams.domain.slo.loader import parse_slo_text
from streams.domain.slo.model import Slo, SloFile
from streams.domain.timestamps import parse_ts
from tests.unit.domain.engine.conftest import START, E, slos, streams_of_events
from tests.unit.domain.engine.test_restore import Store, checkpoint, feed, restored, sorted_outputs

HOUR = 3600.0


def utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_a_berlin_month_runs_from_local_midnight_to_local_midnight() -> None:
    month = Calendar("month", "Europe/Berlin")
    # 1 December 00:00 in Berlin (CET, UTC+1) is 30 November 23:00 UTC.
    assert month.bounds(utc("2026-11-30T23:00:01")) == (utc("2026-11-30T23:00:00"),
                                                         utc("2026-12-31T23:00:00"))
    # an event stamped exactly at midnight belongs to the month that ends then
    assert month.bounds(utc("2026-11-30T23:00:00")) == (utc("2026-10-31T23:00:00"),
                                                        utc("2026-11-30T23:00:00"))
    assert Calendar("quarter", "UTC").bounds(utc("2026-12-31T12:00:00")) == (
        utc("2026-10-01T00:00:00"), utc("2027-01-01T00:00:00"))


def test_a_week_across_a_dst_change_keeps_its_167_or_169_hours() -> None:
    week = Calendar("week", "Europe/Berlin")
    # Summer time ends on Sunday 25 October 2026: Monday 19 (CEST) to Monday 26 (CET).
    start, end = week.bounds(utc("2026-10-21T12:00:00"))
    assert (start, end) == (utc("2026-10-18T22:00:00"), utc("2026-10-25T23:00:00"))
    assert end - start == 169 * HOUR
    # It begins on Sunday 29 March 2026: Monday 23 (CET) to Monday 30 (CEST).
    start, end = week.bounds(utc("2026-03-25T12:00:00"))
    assert (start, end) == (utc("2026-03-22T23:00:00"), utc("2026-03-29T22:00:00"))
    assert end - start == 167 * HOUR


MONTHLY = """
apiVersion: sre-streams/v1
slos:
  - name: api
    service: api
    objective: 0.98
    sli: {availability: {}}
    window: {calendar: %(unit)s, timezone: Europe/Berlin}
"""


def snapshots(unit: str, events: list[dict[str, object]], every: float) -> dict[float, dict[str, object]]:
    engine = Engine(parse_slo_text(MONTHLY % {"unit": unit}),
                    EngineSettings(eval_interval=E, lateness=0, budget_interval=every))
    for event in events:
        engine.ingest(event)
    engine.finish()
    found = [orjson.loads(msgspec.json.encode(b)) for b in engine.budgets]
    return {parse_ts(s["at"]): s for s in found}


def test_the_budget_resets_at_local_midnight_on_the_first_of_the_month() -> None:
    boundary = utc("2026-11-30T23:00:00")  # midnight in Berlin
    # 100 events every 10 s from 22:58 to 23:02 UTC: 2 bad before midnight, 1 bad after.
    events = [{"ts": boundary + offset, "slo": "api", "good": 98 if offset <= 0 else 99,
               "total": 100} for offset in range(-110, 130, 10)]
    found = snapshots("month", events, 60)
    before, after = found[boundary], found[boundary + 60]
    # (22:58, 23:00]: 12 counts of 100 with 2% bad: the whole budget of a 98% objective spent.
    assert (before["good"], before["total"]) == (1176, 1200)
    assert before["error_budget_remaining"] == pytest.approx(0.0, abs=1e-12)
    assert (before["period_start"], before["period_end"]) == ("2026-10-31T23:00:00.000Z",
                                                              "2026-11-30T23:00:00.000Z")
    # (23:00, 23:01]: a new month, 6 counts with 1% bad: half the budget left.
    assert (after["good"], after["total"]) == (594, 600)
    assert after["error_budget_remaining"] == pytest.approx(0.5)
    assert (after["period_start"], after["period_end"]) == ("2026-11-30T23:00:00.000Z",
                                                            "2026-12-31T23:00:00.000Z")
    assert after["window"] == "month Europe/Berlin"
    assert "30d" not in after["burn_rates"]  # the period is counted apart from the windows


def test_a_week_across_the_dst_change_counts_its_169_hours_of_events() -> None:
    # One event every hour at half past, from Sunday 18 October to Monday 26 October (UTC).
    first = utc("2026-10-18T20:30:00")
    events = [{"ts": first + h * HOUR, "slo": "api", "good": 1, "total": 1} for h in range(175)]
    found = snapshots("week", events, HOUR)
    end = found[utc("2026-10-25T23:00:00")]
    assert (end["period_start"], end["period_end"]) == ("2026-10-18T22:00:00.000Z",
                                                        "2026-10-25T23:00:00.000Z")
    assert end["total"] == 169  # 22:30 on the 18th to 22:30 on the 25th, one an hour
    assert found[utc("2026-10-26T00:00:00")]["total"] == 1  # the next week: 23:30 only


def test_a_calendar_slo_can_be_written_in_defaults_and_is_validated() -> None:
    loaded = parse_slo_text(MONTHLY.replace("    window: {calendar: %(unit)s, timezone: Europe/Berlin}\n", "")
                            + "defaults: {window: {calendar: quarter}}\n")
    assert loaded.slos[0].calendar == Calendar("quarter", "UTC")
    assert loaded.slos[0].window == 91 * 86400  # burn factors use the nominal length
    try:
        parse_slo_text(MONTHLY % {"unit": "fortnight"})
    except ValueError as exc:
        assert "slos[0].window.calendar: calendar must be one of month, week, quarter, got " \
            "'fortnight'" in str(exc)
    else:
        raise AssertionError("a fortnight was accepted")
    try:
        parse_slo_text((MONTHLY % {"unit": "month"}).replace("Europe/Berlin", "Mars/Olympus"))
    except ValueError as exc:
        assert "slos[0].window.timezone: unknown time zone 'Mars/Olympus'" in str(exc)
    else:
        raise AssertionError("an unknown zone was accepted")


BOUNDARY = utc("2025-11-30T23:00:00")  # a Berlin month boundary; START + 1h is moved onto it


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(slo=slos(), events=streams_of_events(), data=st.data())
def test_a_restart_across_the_boundary_gives_the_uninterrupted_snapshots(
    slo: Slo, events: list[dict[str, object]], data: st.DataObject,
) -> None:
    """The worker restored from a checkpoint (live) and one uninterrupted run (backtest)
    publish the same alerts and budgets, across a month boundary in Berlin."""
    calendar = Calendar(data.draw(st.sampled_from(["month", "week"])), "Europe/Berlin")
    slo = replace(slo, window=calendar.nominal, calendar=calendar)
    shift = BOUNDARY - START - HOUR
    events = [{**event, "ts": float(event["ts"]) + shift} for event in events]  # type: ignore[arg-type]
    slo_file = SloFile((slo,))
    engine_settings = EngineSettings(eval_interval=E, lateness=data.draw(st.sampled_from([0.0, 30.0])),
                                     budget_interval=60.0)
    reference = Engine(slo_file, engine_settings)
    feed(reference, events, False)
    reference.finish()
    expected = reference.alerts + reference.budgets
    cut = data.draw(st.integers(0, len(events)))
    first = Engine(slo_file, engine_settings)
    store: Store = {}
    feed(first, events[:cut], False)
    meta = checkpoint(first, store)
    second = restored(slo_file, engine_settings, store, meta)
    feed(second, events[cut:], False)
    second.finish()
    assert sorted_outputs(first.alerts + first.budgets + second.alerts + second.budgets) \
        == sorted_outputs(expected)
    # 1 December 2025 is a Monday: a new month and a new week begin at that midnight
    for snapshot in reference.budgets:
        after = parse_ts(snapshot.at) > BOUNDARY
        assert (snapshot.period_start == "2025-11-30T23:00:00.000Z") is after
        assert (snapshot.period_end == "2025-11-30T23:00:00.000Z") is not after
