"""Settings: command-line flags win, then `SRE_*` environment variables, then defaults.

This is the one module that reads the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

from streams.domain.durations import DurationError, parse_duration

ENV_PREFIX = "SRE_"


class SettingsError(ValueError):
    """A setting with a value that cannot be used."""


def from_env(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The value of `SRE_<NAME>`, or None when unset or empty."""
    value = (os.environ if environ is None else environ).get(ENV_PREFIX + name.upper())
    return value if value else None


def secret(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """A secret from the environment variable the configuration names (e.g. a routing key)."""
    value = (os.environ if environ is None else environ).get(name)
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


@dataclass(frozen=True, slots=True)
class Topics:
    requests: str
    deploys: str
    commands: str
    alerts: str
    incidents: str
    budgets: str
    dead_letter: str
    policy: str
    alert_stats: str

    @classmethod
    def with_prefix(cls, prefix: str) -> Topics:
        return cls(*(prefix + name for name in (
            "requests", "deploys", "commands", "alerts", "incidents", "budgets", "dead-letter",
            "policy", "alert-stats")))


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the worker, demo, produce and tail need; validated once, here."""

    broker: str = "kafka://localhost:9092"
    slos: str | None = None
    app_id: str = "sre-streams"
    topic_prefix: str = "sre."
    partitions: int = 4
    lateness: float = 5.0
    eval_interval: float = 10.0
    budget_interval: float = 60.0
    idle_timeout: float = 10.0
    max_future: float = 300.0
    max_message_bytes: int = 1 << 20
    batch_size: int = 50_000  # input records per fetch: every prefetched partition at once
    data_dir: str = "./sre-streams-data"
    api_host: str = "0.0.0.0"  # the HTTP API (gates, SLOs, alerts, incidents, /metrics)
    api_port: int = 6066
    api_url: str | None = None  # how other workers reach this one (default http://<host name>:<port>)
    api_token: str | None = None  # bearer token of the mutating endpoints; unset: they are off
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None

    @property
    def topics(self) -> Topics:
        return Topics.with_prefix(self.topic_prefix)

    @property
    def bootstrap(self) -> str:
        """host:port list for aiokafka, from the Faust-style `kafka://host:port;host:port` URL."""
        return ",".join(part.split("://", 1)[-1] for part in self.broker.split(";"))

    @classmethod
    def load(cls, overrides: Mapping[str, object] | None = None,
             environ: Mapping[str, str] | None = None) -> Settings:
        """Flags (`overrides`, None values ignored), then SRE_* variables, then defaults."""
        values: dict[str, object] = {}
        flags = {k: v for k, v in (overrides or {}).items() if v is not None}
        for item in fields(cls):
            raw = flags.get(item.name, from_env(item.name, environ))
            if raw is None:
                continue
            where = (f"--{item.name.replace('_', '-')}" if item.name in flags
                     else ENV_PREFIX + item.name.upper())
            values[item.name] = _convert(item.name, raw, cls.__dataclass_fields__[item.name].default,
                                         where)
        settings = cls(**values)  # type: ignore[arg-type]
        settings.check()
        return settings

    def check(self) -> None:
        if not self.broker.strip():
            raise SettingsError("broker: must not be empty")
        if self.partitions < 1:
            raise SettingsError("partitions: must be >= 1")
        if self.security_protocol not in {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"}:
            raise SettingsError("security_protocol: must be PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL")
        if self.sasl_mechanism and not (self.sasl_username and self.sasl_password):
            raise SettingsError("sasl_mechanism needs sasl_username and sasl_password")
        if not 0 <= self.api_port <= 65535:
            raise SettingsError("api_port: must be a TCP port (0 to 65535)")

    @property
    def advertised_api(self) -> str:
        """The URL other workers use to forward API requests to this one."""
        if self.api_url:
            return self.api_url.rstrip("/")
        import socket

        host = self.api_host if self.api_host not in {"0.0.0.0", "::", ""} else socket.gethostname()
        return f"http://{host}:{self.api_port}"


_DURATIONS = {"lateness", "eval_interval", "budget_interval", "idle_timeout", "max_future"}


def _convert(name: str, raw: object, default: object, where: str) -> object:
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return raw
    text = str(raw)
    if name in _DURATIONS:
        if name == "lateness" and text.strip() in {"0", "0s"}:
            return 0.0
        try:
            return parse_duration(text)
        except DurationError as exc:
            raise SettingsError(f"{where}: {exc}") from None
    if isinstance(default, int) and not isinstance(default, bool):
        try:
            return int(text)
        except ValueError:
            raise SettingsError(f"{where}: expected an integer, got {text!r}") from None
    return text
