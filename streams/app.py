"""The Faust app (`streams.app:app`): the worker, its settings and its services.

The request stream is consumed by `streams.runtime.engine.service.EngineService` (batches, explicit
offsets, state in a changelog topic), started with the app. Input is keyed so that one
series lives on one partition: producers key request events by `service` (count events by
the SLO's service); `sre-streams produce` does this.
"""

from __future__ import annotations

import logging
from typing import Any

import faust

from streams.domain.slo.loader import load_slo_file
from streams.runtime.api import ApiService
from streams.runtime.engine.service import EngineService
from streams.runtime.incidents.service import IncidentService
from streams.runtime.kafka.clients import sasl_password, ssl_context
from streams.runtime.kafka.logs import quiet_kafka_client
from streams.runtime.settings import Settings

log = logging.getLogger(__name__)


def _credentials(settings: Settings) -> Any:
    if settings.sasl_mechanism:
        return faust.SASLCredentials(
            username=settings.sasl_username, password=sasl_password(settings),
            mechanism=settings.sasl_mechanism, ssl_context=ssl_context(settings),
        )
    return ssl_context(settings)


class SreApp(faust.App):
    """The Faust app, with the engine service among its dependencies.

    Its services start first, before Faust's own (whose table manager waits a second for
    tables this app does not have), and their consumers join their groups in the background:
    the input and incident consumers' joins and Faust's run at once, instead of one after
    another (seconds saved per start).
    """

    sre_settings: Settings

    def on_init_dependencies(self) -> list[Any]:
        dependencies = list(super().on_init_dependencies())
        settings = self.sre_settings
        if not self.producer_only and not self.client_only:
            if not settings.slos:
                raise RuntimeError("no SLO file: set SRE_SLOS or pass --slos")
            slo_file = load_slo_file(settings.slos)
            quiet_kafka_client()  # a broker away: a line per kind every 10 s, not every 50 ms
            engine = EngineService(settings, slo_file, loop=self.loop, beacon=self.beacon)
            responder = IncidentService(settings, slo_file, loop=self.loop, beacon=self.beacon)
            api = ApiService(settings, slo_file, responder, engine, loop=self.loop,
                             beacon=self.beacon)
            dependencies = [engine, responder, api, *dependencies]
        return dependencies


def create_app(settings: Settings) -> faust.App:
    """Build the app for these settings (nothing connects until a worker starts)."""
    app = SreApp(
        settings.app_id,
        broker=settings.broker,
        broker_credentials=_credentials(settings),
        autodiscover=False,
        datadir=settings.data_dir,
        topic_partitions=settings.partitions,
        topic_allow_declare=True,
        consumer_auto_offset_reset="earliest",
        # Fast group joins (the bundled broker waits the whole rebalance timeout).
        broker_rebalance_timeout=5.0,
        broker_session_timeout=10.0,
        broker_heartbeat_interval=1.0,
        web_enabled=False,
        key_serializer="raw",
        value_serializer="raw",
    )
    app.sre_settings = settings
    return app


app = create_app(Settings.load())
