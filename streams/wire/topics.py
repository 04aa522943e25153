"""Which message type each schema file describes: the map `schemas/` is written from."""

from __future__ import annotations

import msgspec

from streams.wire.alerts import Alert, AlertStats
from streams.wire.budgets import BudgetSnapshot
from streams.wire.capacity import CapacityEvent, CapacityReport, ResourceEvent
from streams.wire.commands import Command, Deploy
from streams.wire.dead_letter import DeadLetter
from streams.wire.incidents import IncidentEvent
from streams.wire.policy import PolicyEvent
from streams.wire.requests import CountEvent, RequestEvent
from streams.wire.toil import WorkEvent

MESSAGES: dict[str, type[msgspec.Struct]] = {
    "request-event": RequestEvent,
    "count-event": CountEvent,
    "alert": Alert,
    "budget": BudgetSnapshot,
    "incident": IncidentEvent,
    "policy": PolicyEvent,
    "dead-letter": DeadLetter,
    "command": Command,
    "deploy": Deploy,
    "alert-stats": AlertStats,
    "work-event": WorkEvent,
    "resource-event": ResourceEvent,
    "capacity": CapacityEvent,
    "capacity-report": CapacityReport,
}
