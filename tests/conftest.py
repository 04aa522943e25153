"""Test material shared across the test folders: the alert tuner's traffic scenarios, used by
its unit tests and its command-line tests.

Traffic is count events every 10 s, 1,000 requests each, so every window's bad/total ratio is
known exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import orjson

from streams.tune.incidents import LabelledIncident

HOUR, DAY = 3600, 86400
EVAL = 10
PER_10S = 1000
START = 25920 * 68000  # 2025-11-08T00:00:00Z, on every bucket grid of every window used here

# The SLO file of the blip scenario: one SLO on the built-in multiwindow policy.
BLIPS_SLO_FILE = """
apiVersion: sre-streams/v1
slos:
  - name: api
    service: api
    objective: 0.99
    sli: {availability: {}}
"""

# For other periods: a policy of its own that fits a 1-day period, so that the built-in
# policy (whose 3-day window does not) is not a candidate and the Workbook's names stay free.
PERIOD_SLO_FILE = """
apiVersion: sre-streams/v1
defaults: {window: %(window)s, alerting: fast}
alerting:
  fast:
    - {name: page, severity: page, long: 1h, short: 5m, budget_percent: 20}
slos:
  - name: api
    service: api
    objective: %(objective)s
    sli: {availability: {}}
"""


def count_events(start: int, end: int, bad: Callable[[int], int]) -> Iterator[dict[str, object]]:
    """One count event per 10 s in (start, end], each covering the 10 s before its ts."""
    for ts in range(start + EVAL, end + 1, EVAL):
        yield {"ts": ts, "slo": "api", "good": PER_10S - bad(ts), "total": PER_10S}


def blips_and_outage(days: int = 3, outage_at: int = 50 * HOUR, outage: int = HOUR) -> tuple[
        list[dict[str, object]], LabelledIncident]:
    """Hourly 30-second blips of 50% errors, 0.1% errors otherwise, and one total outage.

    For a 99% SLO the blips burn 0.42× on any window of an hour or more (budget they can
    afford), but 2.5× on a 10-minute window: the noise the target-error-rate strategy pages on.
    """
    first, last = START + outage_at, START + outage_at + outage

    def bad(ts: int) -> int:
        if first < ts <= last:
            return PER_10S
        blip = 20 * 60 < (ts - START) % HOUR <= 20 * 60 + 30
        return PER_10S // 1000 + (PER_10S // 2 if blip else 0)

    events = list(count_events(START, START + days * DAY, bad))
    return events, LabelledIncident("api", first, last, title="total outage", line=1)


def clean_outage(period: int) -> tuple[list[dict[str, object]], LabelledIncident]:
    """Error-free traffic, then a 3-hour total outage: the Workbook's detection-time setting."""
    first = START + period // 4  # longer than every window the catalog scales to the period
    last = first + 3 * HOUR
    events = list(count_events(START, last + HOUR, lambda ts: PER_10S if first < ts <= last else 0))
    return events, LabelledIncident("api", first, last, line=1)


def write_events(path: Path, events: list[dict[str, object]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(event) + b"\n" for event in events))
    return path
