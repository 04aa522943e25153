"""Dead-letter reasons grouped into a fixed set of classes, for statistics and metric labels.

A reason names particulars (an unknown SLO's name, a size, a parser's message); counting by
reason would let a producer grow the statistics, and `/metrics`, by one entry per name it
invents. Classes are a closed set: whatever matches none is `other`.
"""

from __future__ import annotations

# The start of each reason the decoder and the classifier give, as the class it counts under.
CLASSES = (
    "empty message", "empty batch", "message over the size limit", "invalid JSON",
    "expected a JSON object", "unreadable event", "missing ts", "invalid ts",
    "timestamp in the future", "too old", "missing service", "service must be a non-empty string",
    "unknown SLO", "missing good", "missing total", "good must be", "total must be",
    "good > total", "series must be an object", "series key", "field value must be",
    "missing status", "status must be an integer", "status out of range", "missing latency_ms",
    "latency_ms must be", "ok must be a boolean",
)
LABEL_TOO_LONG = "label too long"
OTHER = "other"


def reason_class(reason: str) -> str:
    """The class of a dead-letter reason: one of CLASSES, LABEL_TOO_LONG or OTHER."""
    for name in CLASSES:
        if reason.startswith(name):
            return name
    if reason.endswith(" characters") and " longer than " in reason:
        return LABEL_TOO_LONG
    return OTHER
