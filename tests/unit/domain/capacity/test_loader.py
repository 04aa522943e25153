"""The `capacity` section of the SLO file: parsed into plans, every problem with its path."""

from __future__ import annotations

import pytest

from streams.domain.capacity.model import CapacityPlan, Launch
from streams.domain.slo.loader import SloFileError, parse_slo_text
from streams.domain.timestamps import parse_ts

HEAD = """
apiVersion: sre-streams/v1
slos:
  - {name: checkout-availability, service: checkout, objective: 0.999, sli: {availability: {}}}
"""

ISSUE_EXAMPLE = HEAD + """
capacity:
  - service: checkout
    unit: requests/s
    per_instance: 100
    instances: 37
    redundancy: 2
    lead_time: 30d
    horizon: 90d
    launches:
      - {name: eu-launch, at: "2026-12-10T00:00:00Z", factor: 1.3}
  - service: search
    resource: disk
    capacity: 2000
    lead_time: 14d
"""


def problems(text: str) -> list[str]:
    with pytest.raises(SloFileError) as caught:
        parse_slo_text(text)
    return caught.value.problems


def test_the_issue_example_parses_into_two_plans() -> None:
    checkout, search = parse_slo_text(ISSUE_EXAMPLE).capacity
    assert checkout == CapacityPlan(
        "checkout", 30 * 86400.0, 90 * 86400.0, per_instance=100.0, instances=37, redundancy=2,
        launches=(Launch("eu-launch", parse_ts("2026-12-10T00:00:00Z"), 1.3),))
    assert checkout.usable == 3500.0  # N+2: 100 * (37 - 2)
    assert search == CapacityPlan("search", 14 * 86400.0, 90 * 86400.0, resource="disk",
                                  unit=None, capacity=2000.0)
    assert search.usable == 2000.0


def test_redundancy_defaults_to_n_plus_2_and_a_file_without_capacity_has_none() -> None:
    plans = parse_slo_text(HEAD + """
capacity:
  - {service: checkout, per_instance: 10, instances: 5, lead_time: 7d}
""").capacity
    assert plans[0].redundancy == 2 and plans[0].usable == 30.0
    assert parse_slo_text(HEAD).capacity == ()


def test_a_resource_may_leave_its_capacity_to_its_events() -> None:
    (plan,) = parse_slo_text(HEAD + """
capacity:
  - {service: search, resource: disk, unit: GB, lead_time: 14d}
""").capacity
    assert plan.usable is None and plan.unit == "GB"


def test_every_problem_is_reported_with_its_path() -> None:
    found = problems(HEAD + """
capacity:
  - service: checkout
    unit: GB
    per_instance: -1
    instances: 2
    redundancy: 2
    lead_time: soon
    horizon: 2d
    launches:
      - {name: eu, at: "next week", factor: 0}
      - {name: eu, at: "2026-12-10T00:00:00Z", factor: 1.2, size: big}
  - {service: checkout, per_instance: 1, instances: 3, lead_time: 1d}
  - {service: checkout, per_instance: 1, instances: 4, lead_time: 1d}
  - {service: search, resource: disk, capacity: 0, lead_time: 30d, horizon: 7d}
  - {resource: disk, lead_time: 1d, per_instance: 3}
  - 42
""")
    expected_prefixes = [
        "capacity[0].lead_time: must be a duration",
        "capacity[0].launches[0].at: must be an RFC 3339 time",
        "capacity[0].launches[0].factor: must be > 0, got 0",
        "capacity[0].launches[1].size: unknown key",
        "capacity[0].unit: demand is measured in requests/s",
        "capacity[0].per_instance: must be > 0, got -1",
        "capacity[0].instances: must exceed redundancy (2)",
        "capacity[2].service: duplicate entry for service 'checkout' (also capacity[1])",
        "capacity[3].horizon: must reach at least the lead time (30d), got 1w",
        "capacity[3].capacity: must be > 0, got 0",
        "capacity[4].per_instance: unknown key",
        "capacity[4].service: is required",
        "capacity[5]: must be a mapping with service and lead_time, got 42",
    ]
    assert len(found) == len(expected_prefixes), found
    for line, prefix in zip(found, expected_prefixes, strict=True):
        assert line.startswith(prefix), (line, prefix)


def test_capacity_must_be_a_list() -> None:
    assert problems(HEAD + "capacity: {service: checkout}\n") == [
        "capacity: must be a list of services or resources, got a mapping"]


def test_a_launch_name_is_used_once() -> None:
    assert problems(HEAD + """
capacity:
  - service: checkout
    per_instance: 10
    instances: 5
    lead_time: 7d
    launches:
      - {name: eu, at: "2026-12-10T00:00:00Z", factor: 1.3}
      - {name: eu, at: "2026-12-20T00:00:00Z", factor: 1.1}
""") == ["capacity[0].launches[1].name: duplicate launch 'eu' (also capacity[0].launches[0])"]
