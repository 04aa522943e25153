"""`sre.budgets`: a series' error budget at an evaluation instant."""

from __future__ import annotations

from msgspec import UNSET, UnsetType

from streams.wire.codec import decode
from streams.wire.envelope import SeriesMessage


class BudgetSnapshot(SeriesMessage, frozen=True, kw_only=True, tag="budget"):
    """SLI, burn rate per window and budget remaining of one SLO series at `at`."""

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
    # Calendar periods only: the period the budget counts (start < ts <= end).
    period_start: str | UnsetType = UNSET
    period_end: str | UnsetType = UNSET


def decode_budget(data: bytes | str) -> BudgetSnapshot:
    return decode(data, BudgetSnapshot, "budget")
