"""Settings: command-line flags win, then `SRE_*` environment variables, then defaults.

This is the one module that reads the environment.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, fields
from typing import Annotated, Any, Literal, get_args

from pydantic import BeforeValidator, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from streams.domain.durations import DurationError, parse_duration

ENV_PREFIX = "SRE_"


class SettingsError(ValueError):
    """A setting with a value that cannot be used."""


def seconds(raw: object, *, zero: bool = False) -> float:
    """A duration setting in seconds (`30s`, `5m`, a bare number); `zero` also allows 0."""
    if zero and (raw == 0 or (isinstance(raw, str) and raw.strip() in {"0", "0s"})):
        return 0.0
    return parse_duration(raw if isinstance(raw, int | float | str) else str(raw))


def _positive_seconds(raw: object) -> float:
    return seconds(raw)


def _seconds_or_zero(raw: object) -> float:
    return seconds(raw, zero=True)


def _integer(raw: object) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    try:
        return int(str(raw))
    except ValueError:
        raise ValueError(f"expected an integer, got {raw!r}") from None


Duration = Annotated[float, BeforeValidator(_positive_seconds)]
DurationOrZero = Annotated[float, BeforeValidator(_seconds_or_zero)]  # lateness may be 0
Integer = Annotated[int, BeforeValidator(_integer)]
SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]


def from_env(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The value of `SRE_<NAME>`, or None when unset or empty."""
    value = (os.environ if environ is None else environ).get(ENV_PREFIX + name.upper())
    return value if value else None


def secret(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """A secret from the environment variable the configuration names (e.g. a routing key)."""
    value = (os.environ if environ is None else environ).get(name)
    return value if value else None


def duration_setting(flag: str | None, name: str, default: float,
                     environ: Mapping[str, str] | None = None, *, zero: bool = False) -> float:
    """A duration from a flag, else `SRE_<NAME>`, else the default; a bare number is seconds."""
    raw = flag if flag is not None else from_env(name, environ)
    if raw is None:
        return default
    try:
        return seconds(raw, zero=zero)
    except DurationError as exc:
        raise SettingsError(f"{_source(name, from_flag=flag is not None)}: {exc}") from None


TOPIC_NAMES = ("requests", "deploys", "commands", "alerts", "incidents", "budgets", "dead-letter",
               "policy", "alert-stats", "toil", "capacity", "resources")


@dataclass(frozen=True, slots=True)
class Topics:
    """Every topic name, in the order of `TOPIC_NAMES`."""

    requests: str
    deploys: str
    commands: str
    alerts: str
    incidents: str
    budgets: str
    dead_letter: str
    policy: str
    alert_stats: str
    toil: str
    capacity: str
    resources: str

    @classmethod
    def with_prefix(cls, prefix: str) -> Topics:
        return cls(*(prefix + name for name in TOPIC_NAMES))

    def named(self, name: str) -> str:
        """A topic by its short name (`alerts`, `dead-letter`); any other name as given."""
        if name in TOPIC_NAMES:
            return str(getattr(self, fields(self)[TOPIC_NAMES.index(name)].name))
        return name


# The environment a `Settings.load` reads (os.environ unless a test passes its own).
_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("sre_settings_environ", default=None)


class _Environment(EnvSettingsSource):
    def _load_env_vars(self) -> Mapping[str, str | None]:
        environ = _ENVIRON.get()
        if environ is None:
            return super()._load_env_vars()
        # As pydantic-settings reads os.environ: names case-insensitive, empty values unset.
        return {key.lower(): value for key, value in environ.items() if value}


class Settings(BaseSettings):
    """Everything the worker, demo, produce and tail need; validated once, here."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_ignore_empty=True, frozen=True,
                                      extra="ignore", validate_default=False)

    broker: str = "kafka://localhost:9092"
    slos: str | None = None
    app_id: str = "sre-streams"
    topic_prefix: str = "sre."
    partitions: Integer = 4
    lateness: DurationOrZero = 5.0
    eval_interval: Duration = 10.0
    budget_interval: Duration = 60.0
    idle_timeout: Duration = 10.0
    max_future: Duration = 300.0
    # The input and incident consumers' group session: a worker silent this long loses its
    # partitions. Kafka refuses less than its group.min.session.timeout.ms (6 s by default);
    # the bundled broker holds every group join for half of it.
    session_timeout: Duration = 6.0
    override_max: Duration = 7 * 86400.0  # the longest a budget-policy override may last
    max_message_bytes: Integer = 1 << 20
    batch_size: Integer = 50_000  # input records per fetch: every prefetched partition at once
    data_dir: str = "./sre-streams-data"
    api_host: str = "0.0.0.0"  # the HTTP API (gates, SLOs, alerts, incidents, /metrics)
    api_port: Integer = 6066
    api_url: str | None = None  # how other workers reach this one (default http://<host name>:<port>)
    api_token: SecretStr | None = None  # bearer token of the mutating endpoints; unset: they are off
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # No .env or secrets directory: flags (init arguments), then SRE_* variables.
        return init_settings, _Environment(settings_cls)

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if not self.broker.strip():
            raise ValueError("broker: must not be empty")
        if self.partitions < 1:
            raise ValueError("partitions: must be >= 1")
        if self.sasl_mechanism and not (self.sasl_username and self.sasl_password):
            raise ValueError("sasl_mechanism needs sasl_username and sasl_password")
        if not 0 <= self.api_port <= 65535:
            raise ValueError("api_port: must be a TCP port (0 to 65535)")
        return self

    @classmethod
    def load(cls, overrides: Mapping[str, object] | None = None,
             environ: Mapping[str, str] | None = None) -> Settings:
        """Flags (`overrides`, None values ignored), then SRE_* variables, then defaults."""
        flags: dict[str, Any] = {k: v for k, v in (overrides or {}).items() if v is not None}
        with _reading(environ):
            try:
                return cls(**flags)
            except ValidationError as exc:
                raise SettingsError(_one_line(exc, flags)) from None

    @property
    def topics(self) -> Topics:
        return Topics.with_prefix(self.topic_prefix)

    @property
    def bootstrap(self) -> str:
        """host:port list for aiokafka, from the Faust-style `kafka://host:port;host:port` URL."""
        return ",".join(part.split("://", 1)[-1] for part in self.broker.split(";"))

    @property
    def advertised_api(self) -> str:
        """The URL other workers use to forward API requests to this one."""
        if self.api_url:
            return self.api_url.rstrip("/")
        host = self.api_host if self.api_host not in {"0.0.0.0", "::", ""} else socket.gethostname()
        return f"http://{host}:{self.api_port}"


@contextmanager
def _reading(environ: Mapping[str, str] | None) -> Iterator[None]:
    token = _ENVIRON.set(environ)
    try:
        yield
    finally:
        _ENVIRON.reset(token)


def _source(name: str, *, from_flag: bool) -> str:
    return f"--{name.replace('_', '-')}" if from_flag else ENV_PREFIX + name.upper()


def _one_line(exc: ValidationError, flags: Mapping[str, Any]) -> str:
    """The first problem, naming the flag or variable it came from, never echoing the value of
    a secret (only our own messages and pydantic's, without its `input_value`, are used)."""
    error = exc.errors(include_url=False, include_input=False)[0]
    message = str(error["msg"]).removeprefix("Value error, ")
    if not error["loc"]:  # a check across settings: the message names them
        return message
    name = str(error["loc"][0])
    if error["type"] == "literal_error":
        *some, last = get_args(SecurityProtocol)
        return f"{name}: must be {', '.join(some)} or {last}"
    return f"{_source(name, from_flag=name in flags)}: {message}"
