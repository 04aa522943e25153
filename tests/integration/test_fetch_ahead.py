"""Once `getmany` has taken a partition's records, `let_fetcher_run` gives aiokafka's fetcher
the event loop turns it needs to send the next fetch request, so the broker reads on while the
batch is counted (a batch is counted without yielding)."""

from __future__ import annotations

import asyncio
import uuid

from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.runtime.kafka.clients import client_options
from streams.runtime.kafka.local_broker import LocalBroker
from streams.runtime.settings import Settings
from streams.runtime.state.checkpointed import let_fetcher_run
from tests.integration.test_changelog_read import started_producer


def test_the_next_fetch_request_leaves_before_the_batch_is_counted(broker: LocalBroker) -> None:
    settings = Settings.load({"broker": broker.url, "topic_prefix": f"t{uuid.uuid4().hex[:8]}."})
    topic = settings.topics.requests

    async def run() -> None:
        producer = await started_producer(settings, topic)
        try:
            for n in range(50):
                await producer.send(topic, b"%d" % n, partition=0)
            await producer.flush()
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(**client_options(settings), group_id=None,
                                    auto_offset_reset="earliest", enable_auto_commit=False)
        await consumer.start()
        try:
            # Partition 0 alone: fetches for partitions without records would be in flight
            # whatever the turns do.
            consumer.assign([TopicPartition(topic, 0)])
            fetcher, client = consumer._fetcher, consumer._client  # aiokafka's own

            def written() -> int:  # requests sent and not answered, on every connection
                return sum(len(conn._requests) for conn in client._conns.values())

            taken = 0
            while taken < 50:  # to the batch that empties the partition's buffer
                batches = await consumer.getmany(timeout_ms=2000)
                taken += sum(map(len, batches.values()))
            assert not fetcher._in_flight and not written()  # woken, not run yet
            await let_fetcher_run()
            # The fetch task started (second turn) and wrote its request (third).
            assert fetcher._in_flight and written()
        finally:
            await consumer.stop()

    asyncio.run(asyncio.wait_for(run(), 60))
