"""Settings: command-line flags win, then `SRE_*` environment variables, then defaults.

This is the one module that reads the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from streams.domain.durations import DurationError, parse_duration

ENV_PREFIX = "SRE_"


class SettingsError(ValueError):
    """A setting with a value that cannot be used."""


def from_env(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The value of `SRE_<NAME>`, or None when unset or empty."""
    value = (os.environ if environ is None else environ).get(ENV_PREFIX + name.upper())
    return value if value else None


def duration_setting(flag: str | None, name: str, default: float,
                     environ: Mapping[str, str] | None = None) -> float:
    """A duration from a flag, else `SRE_<NAME>`, else the default; a bare number is seconds."""
    raw = flag if flag is not None else from_env(name, environ)
    if raw is None:
        return default
    try:
        return parse_duration(raw)
    except DurationError as exc:
        source = f"--{name.replace('_', '-')}" if flag is not None else ENV_PREFIX + name.upper()
        raise SettingsError(f"{source}: {exc}") from None
