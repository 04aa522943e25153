"""The budget history in the incident leader's checkpoint: it comes back whole after a restart,
and its records stay small."""

from __future__ import annotations

from tests.unit.conftest import T0
from tests.unit.runtime.incidents.conftest import SETTINGS
from tests.unit.runtime.incidents.test_state import Leader, budget, restored


def test_the_history_of_every_series_survives_a_restart_from_the_changelog() -> None:
    leader = Leader()
    for minute in range(0, 600, 5):  # ten hours, a batch per 5 minutes
        leader.feed(SETTINGS.topics.budgets, [
            budget(region, 1.0 - (minute + n) / 1000, T0 + (minute + n) * 60)
            for n in range(5) for region in ("eu", "us")])
    history = leader.state.history
    again = restored(leader.changelog).state.history
    for region in ("eu", "us"):
        before = history.of("checkout-availability", {"region": region})
        after = again.of("checkout-availability", {"region": region})
        assert before is not None and after is not None
        assert len(before.points()) > 300
        assert after.points() == before.points()
    history_records = [(k, v) for k, v in leader.changelog if k.startswith(b"h|")]
    assert history_records and max(len(v or b"") for _, v in history_records) < 16 << 10


def test_a_restored_leader_goes_on_adding_to_the_history() -> None:
    leader = Leader()
    leader.feed(SETTINGS.topics.budgets, [budget("eu", 0.9, T0 + n * 60) for n in range(30)])
    follower = restored(leader.changelog)
    follower.feed(SETTINGS.topics.budgets, [budget("eu", 0.8, T0 + 30 * 60)])
    series = follower.state.history.of("checkout-availability", {"region": "eu"})
    assert series is not None
    assert [p.remaining for p in series.points()][-2:] == [0.9, 0.8]
    assert len(series.points()) == 31
