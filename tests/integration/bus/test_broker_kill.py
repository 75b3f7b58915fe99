"""A memory-only broker (Tansu) killed with SIGKILL and restarted at once, under clients
that outlive it: the relay's producer and an indexer's consumer.

What the restarted Tansu does (found in the fault matrix's broker-kill rows): it starts
with no topic, yet it accepts a producer's records for the topic the producer still
has in its metadata, serves them to fetches, and refuses every offset commit for it
(``UNKNOWN_TOPIC_OR_PARTITION``, a retriable error aiokafka retries for ever). A
consumer that waited for that commit consumed nothing more; the gateway's repair then
waited for events nobody read.
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from integration.bus.conftest import StartStore, eventually, read_topic
from integration.bus.test_relay import drained, put, write
from polyfhir_bus.consumer import Batch, BatchConsumer, ConsumerOptions, Rejection
from polyfhir_bus.events import (
    POSITION_HEADER,
    RESOURCE_CHANGES_TOPIC,
    ChangeKind,
    ResourceChanged,
)
from polyfhir_bus.kafka import create_admin, create_producer, ensure_topics
from polyfhir_core.tenancy import TenantContext
from polyfhir_engines.tansu import LocalKafka

pytestmark = pytest.mark.integration
PARTITIONS = 3
NOW = datetime.now(UTC)


async def kill_and_restart(broker: LocalKafka, outage_s: float = 0.5) -> None:
    """SIGKILL, then start it again on the same port (empty: memory storage)."""
    assert broker.pid is not None
    os.kill(broker.pid, signal.SIGKILL)
    await asyncio.sleep(outage_s)  # the outage itself, not a wait for a result
    broker.start()  # reaps the killed process first


async def listed_topics(bootstrap: str) -> list[str]:
    admin = create_admin(bootstrap)
    await admin.start()
    try:
        return list(await admin.list_topics())
    finally:
        await admin.close()


class Handled:
    """What the consumer under test has handled: positions per partition, errors seen."""

    def __init__(self) -> None:
        self.positions: set[tuple[int, int]] = set()
        self.errors: list[BaseException] = []

    async def handle(self, batch: Batch) -> list[Rejection]:
        self.positions |= {(d.partition, d.position or -1) for d in batch.deliveries}
        return []

    def has(self, wanted: set[tuple[int, int]]) -> bool:
        return wanted <= self.positions


@pytest.fixture
async def producer(broker: LocalKafka) -> AsyncIterator[AIOKafkaProducer]:
    """A producer that lives across the broker's restart, as the relay's does."""
    made = create_producer(broker.bootstrap)
    await made.start()
    yield made
    await made.stop()


Send = Callable[[str, range], Coroutine[Any, Any, None]]


@pytest.fixture
def send(producer: AIOKafkaProducer) -> Send:
    async def _send(topic: str, positions: range) -> None:
        for position in positions:
            rid = f"p{position}"
            body = {"resourceType": "Patient", "id": rid}
            event = ResourceChanged("t", "Patient", rid, 1, ChangeKind.UPDATED, NOW, body)
            headers = [(POSITION_HEADER, str(position).encode())]
            await producer.send_and_wait(
                topic, event.to_json(), partition=position % PARTITIONS, headers=headers
            )

    return _send


def positions(sent: range) -> set[tuple[int, int]]:
    return {(p % PARTITIONS, p) for p in sent}


async def test_a_consumer_whose_commits_the_restarted_broker_refuses_goes_on_consuming(
    broker: LocalKafka, send: Send
) -> None:
    topic, dlq = f"changes-{uuid.uuid4().hex[:8]}", f"dlq-{uuid.uuid4().hex[:8]}"
    await ensure_topics(broker.bootstrap, PARTITIONS, [topic, dlq])
    handled = Handled()
    options = ConsumerOptions(topic=topic, dead_letter_topic=dlq, commit_timeout_s=1.0)
    consumer = BatchConsumer(
        broker.bootstrap,
        f"group-{uuid.uuid4().hex[:8]}",
        handled.handle,
        consumer_name="broker-kill-test",
        options=options,
        on_error=handled.errors.append,
    )
    await consumer.start()
    try:
        await send(topic, range(1, 7))
        await eventually(lambda: handled.has(positions(range(1, 7))), "the first events")

        # sent while the broker is away: the producer's retries reach the restarted broker
        # with the metadata they had, into a topic it does not list
        sending = asyncio.create_task(send(topic, range(7, 13)))
        await kill_and_restart(broker)
        await sending
        assert topic not in await listed_topics(broker.bootstrap)
        await eventually(lambda: handled.has(positions(range(7, 13))), "the events after")
        await send(topic, range(13, 19))
        await eventually(lambda: handled.has(positions(range(13, 19))), "the events later")
    finally:
        await consumer.stop()
    assert handled.errors, "the refused commits are counted, not silent"


async def test_the_relay_recreates_the_topic_after_a_broker_kill_before_it_sends(
    broker: LocalKafka, start_store: StartStore, tenant: str
) -> None:
    app = await start_store(broker.bootstrap)
    ctx = TenantContext.of(tenant)
    await write(app, ctx, *(put("Patient", f"before{i}") for i in range(6)))
    await drained(app)

    await kill_and_restart(broker)
    await write(app, ctx, *(put("Patient", f"after{i}") for i in range(6)))
    await drained(app)

    assert RESOURCE_CHANGES_TOPIC in await listed_topics(broker.bootstrap)
    records = await read_topic(broker.bootstrap, expected=6)
    seen = {ResourceChanged.from_json(r.value).resource_id for r in records}
    assert {f"after{i}" for i in range(6)} <= seen
    assert {r.partition for r in records} <= set(range(PARTITIONS))
    # a consumer group can commit there (on a topic the broker does not list it cannot)
    consumer = AIOKafkaConsumer(
        RESOURCE_CHANGES_TOPIC,
        bootstrap_servers=broker.bootstrap,
        group_id=f"group-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        await eventually(consumer.assignment, "a partition assignment")
        partition = TopicPartition(RESOURCE_CHANGES_TOPIC, records[0].partition)
        await asyncio.wait_for(consumer.commit({partition: records[0].offset + 1}), 10)
        assert await consumer.committed(partition) == records[0].offset + 1
    finally:
        await consumer.stop()
