"""Live noise statistics of alert rules: firings per day, flaps, acknowledgements."""

from __future__ import annotations

import orjson
import pytest

from streams.domain.incidents.noise import NoiseBook
from streams.domain.timestamps import format_ts, parse_ts
from streams.wire.alerts import Alert

T0 = parse_ts("2026-11-23T00:00:00Z")


def alert(status: str, at: float, rule: str = "page-fast") -> Alert:
    return Alert(id=f"id-{rule}", status="firing" if status == "firing" else "resolved",
                 slo="checkout-availability", service="checkout", series={"region": "eu"},
                 rule=rule, severity="page", long_window="1h", short_window="5m",
                 threshold=14.4, burn_rate_long=20.0, burn_rate_short=30.0,
                 error_budget_remaining=0.9, at=format_ts(at), started_at=format_ts(at),
                 labels={}, annotations={"summary": "..."})


def test_flaps_quiet_resolutions_and_acknowledgements_are_counted() -> None:
    noise = NoiseBook()
    noise.on_alert(alert("firing", T0))
    noise.on_alert(alert("resolved", T0 + 120))  # 2 min, nobody acknowledged: quiet
    noise.on_alert(alert("firing", T0 + 1800))  # within an hour of resolving: a flap
    noise.on_acknowledged(["id-page-fast"])
    noise.on_alert(alert("resolved", T0 + 1800 + 1200))
    noise.on_alert(alert("firing", T0 + 2 * 86400))  # days later: not a flap
    stats = noise.on_alert(alert("resolved", T0 + 2 * 86400 + 60))
    assert stats.firings == 3 and stats.flaps == 1
    assert stats.firings_per_day == pytest.approx(3 / ((2 * 86400 + 60) / 86400))
    assert stats.median_firing_seconds == 120
    assert stats.acknowledged_share == pytest.approx(1 / 3)
    assert stats.quietly_resolved_share == pytest.approx(2 / 3)
    assert stats.firing is False


def test_a_repeated_firing_counts_once_and_state_survives_a_restart() -> None:
    noise = NoiseBook()
    noise.on_alert(alert("firing", T0))
    noise.on_alert(alert("firing", T0))  # a repeat (after a restart): not a new firing
    copy = NoiseBook()
    copy.restore(orjson.loads(orjson.dumps(noise.export())))
    stats = copy.on_alert(alert("resolved", T0 + 700))
    assert stats.firings == 1 and stats.quietly_resolved_share == 0.0
