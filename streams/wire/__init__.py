"""The wire layer: one typed message per topic, decoded once at the edge."""

from streams.wire.alerts import Alert, AlertStats, decode_alert, decode_alert_stats
from streams.wire.budgets import BudgetSnapshot, decode_budget
from streams.wire.codec import WireError, encode
from streams.wire.commands import Command, Deploy, decode_command, decode_deploy
from streams.wire.dead_letter import DeadLetter, decode_dead_letter
from streams.wire.incidents import IncidentAlert, IncidentEvent, decode_incident
from streams.wire.policy import Override, PolicyEvent, decode_policy
from streams.wire.requests import CountEvent, RequestEvent, decode_requests

__all__ = [
    "Alert", "AlertStats", "BudgetSnapshot", "Command", "CountEvent", "DeadLetter", "Deploy",
    "IncidentAlert", "IncidentEvent", "Override", "PolicyEvent", "RequestEvent", "WireError",
    "decode_alert", "decode_alert_stats", "decode_budget", "decode_command", "decode_dead_letter",
    "decode_deploy", "decode_incident", "decode_policy", "decode_requests", "encode",
]
