"""Stored state: the JSON objects checkpoints keep in their changelogs.

These are records of state, written and read back by the same code, never topic messages
(those are the typed structs of `streams.wire`).
"""

from __future__ import annotations

from typing import Any

StoredState = dict[str, Any]  # one changelog record's JSON object (or a part of one)
