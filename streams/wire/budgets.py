"""`sre.budgets`: a series' error budget at an evaluation instant."""

from __future__ import annotations

import msgspec

from streams.wire.codec import decode


class BudgetSnapshot(msgspec.Struct, frozen=True, kw_only=True, tag_field="kind", tag="budget"):
    """SLI, burn rate per window and budget remaining of one SLO series at `at`."""

    version: int = 1
    slo: str
    service: str
    series: dict[str, str]
    at: str
    objective: float
    window: str
    good: int
    total: int
    sli: float
    error_budget_remaining: float
    burn_rates: dict[str, float]
    firing: list[str]
    labels: dict[str, str]


def decode_budget(data: bytes | str) -> BudgetSnapshot:
    return decode(data, BudgetSnapshot, "budget")
