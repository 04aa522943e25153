"""The `capacity` section of an SLO file, parsed: what each service or resource may use."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

DEMAND_UNIT = "requests/s"  # the only unit demand is measured in (from request and count events)
DEFAULT_HORIZON = 90 * 86400.0
DEFAULT_REDUNDANCY = 2  # N+2: one instance down for maintenance while another fails


class CapacityStatus(StrEnum):
    OK = "ok"
    WARN = "warn"  # runway under twice the lead time
    CRITICAL = "critical"  # runway under the lead time
    UNKNOWN = "unknown"  # no history, or no capacity known for a resource


@dataclass(frozen=True, slots=True)
class Launch:
    """Inorganic growth: demand multiplied by `factor` from `at` (epoch seconds) on."""

    name: str
    at: float
    factor: float


@dataclass(frozen=True, slots=True)
class CapacityPlan:
    """One entry of `capacity`: a service's request demand, or one resource of it.

    Demand: usable capacity is `per_instance * (instances - redundancy)` requests/s.
    Resource: usable capacity is `capacity`, or when not set the latest `capacity` of the
    resource's events.
    """

    service: str
    lead_time: float  # seconds
    horizon: float = DEFAULT_HORIZON
    resource: str | None = None
    unit: str | None = DEMAND_UNIT
    per_instance: float | None = None
    instances: int | None = None
    redundancy: int = DEFAULT_REDUNDANCY
    capacity: float | None = None
    launches: tuple[Launch, ...] = ()

    @property
    def key(self) -> tuple[str, str | None]:
        return (self.service, self.resource)

    @property
    def usable(self) -> float | None:
        """Usable capacity from the file (None: a resource whose events say it)."""
        if self.per_instance is not None and self.instances is not None:
            return self.per_instance * (self.instances - self.redundancy)
        return self.capacity

    def demand_factor(self, at: float) -> float:
        """The product of the factors of every launch at or before `at`."""
        factor = 1.0
        for launch in self.launches:
            if launch.at <= at:
                factor *= launch.factor
        return factor
