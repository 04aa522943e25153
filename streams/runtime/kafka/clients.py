"""Kafka connections from the settings: client options, TLS, topic creation, operator commands."""

from __future__ import annotations

import contextlib
import ssl
from typing import Any

import orjson
from aiokafka import AIOKafkaClient, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    CommitFailedError,
    IllegalGenerationError,
    IllegalStateError,
    RebalanceInProgressError,
    TopicAlreadyExistsError,
    UnknownMemberIdError,
)

from streams.runtime.kafka.lifecycle import running
from streams.runtime.settings import Settings

# What the broker answers a member whose generation is over: it must not store or publish.
FENCED = (CommitFailedError, IllegalGenerationError, UnknownMemberIdError,
          RebalanceInProgressError, IllegalStateError)


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context of `SSL` and `SASL_SSL` (trust and client certificate); None otherwise."""
    if settings.security_protocol not in {"SSL", "SASL_SSL"}:
        return None
    context = ssl.create_default_context(cafile=settings.ssl_cafile)
    if settings.ssl_certfile:
        context.load_cert_chain(settings.ssl_certfile, settings.ssl_keyfile)
    return context


def sasl_password(settings: Settings) -> str | None:
    """The SASL password, revealed only to hand it to a client."""
    return settings.sasl_password.get_secret_value() if settings.sasl_password else None


def client_options(settings: Settings) -> dict[str, Any]:
    """aiokafka connection options (bootstrap and security) from the settings."""
    options: dict[str, Any] = {"bootstrap_servers": settings.bootstrap,
                               "security_protocol": settings.security_protocol}
    if settings.sasl_mechanism:
        options.update(sasl_mechanism=settings.sasl_mechanism,
                       sasl_plain_username=settings.sasl_username,
                       sasl_plain_password=sasl_password(settings))
    context = ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    return options


def group_timing(settings: Settings) -> dict[str, int]:
    """The group session options of the services' consumers: a heartbeat a sixth of the
    session (at most a second)."""
    session_ms = round(settings.session_timeout * 1000)
    return {"session_timeout_ms": session_ms,
            "heartbeat_interval_ms": max(100, min(1000, session_ms // 6))}


async def check_broker(settings: Settings) -> None:
    """Reach the broker once (bootstrap and metadata); raises KafkaError when it cannot be
    reached or refuses the credentials, so a command can say so in one line before it starts."""
    client = AIOKafkaClient(**client_options(settings))
    try:
        await client.bootstrap()
    finally:
        await client.close()


async def ensure_topics(settings: Settings, names: list[str], *, compact: bool = False,
                        partitions: int | None = None) -> None:
    """Create topics that do not exist yet, with the configured partition count."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        configs = {"cleanup.policy": "compact"} if compact else None
        missing = [NewTopic(name, partitions or settings.partitions, 1, topic_configs=configs)
                   for name in names if name not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
    finally:
        await admin.close()


async def send_commands(settings: Settings, commands: list[dict[str, object]]) -> None:
    """Publish operator commands (each one message) to the commands topic."""
    await send_messages(settings, settings.topics.commands, commands)


async def send_messages(settings: Settings, topic: str, messages: list[dict[str, object]]) -> None:
    """Publish JSON messages, one each, to a topic (created when missing), waiting for each."""
    await ensure_topics(settings, [topic])
    async with running(AIOKafkaProducer(**client_options(settings))) as producer:
        for message in messages:
            await producer.send_and_wait(topic, orjson.dumps(message))
