"""The indexer fed by a real Kafka broker (Tansu): events become searchable, poison records
go to the dead-letter topic with their reason, an indexer that stops before committing
catches up without duplicates, and a failing engine means retry, not loss."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from prometheus_client import REGISTRY

from polyfhir_bus.consumer import Batch, BatchConsumer, ConsumerOptions, Rejection
from polyfhir_bus.events import (
    DLQ_CONSUMER_HEADER,
    DLQ_REASON_HEADER,
    POSITION_HEADER,
    ResourceChanged,
)
from polyfhir_bus.kafka import create_producer, ensure_topics
from polyfhir_core.contracts.search_index import TextClause, TextField, TextSearch
from polyfhir_core.contracts.secondary import AppliedVersion
from polyfhir_core.errors import ServiceUnavailable
from polyfhir_core.tenancy import TenantContext
from polyfhir_engines.osmem import LocalOpenSearch
from polyfhir_engines.tansu import LocalKafka
from polyfhir_search.bootstrap import CONSUMER_NAME, SearchIndexer, bootstrap
from polyfhir_search.settings import SearchSettings

pytestmark = pytest.mark.integration
WAIT_MS = 30_000


class Topics:
    def __init__(self, ev: Any) -> None:
        self.changes = ev.unique("changes")
        self.dlq = ev.unique("dlq")
        self.group = ev.unique("group")
        self.prefix = ev.unique("ix")
        self.tenant = ev.unique("tenant")


@pytest.fixture
async def topics(ev: Any, kafka_broker: LocalKafka) -> Topics:
    t = Topics(ev)
    await ensure_topics(kafka_broker.bootstrap, 2, [t.changes, t.dlq])
    return t


Send = Callable[..., Awaitable[None]]


@pytest.fixture
def send(producer: AIOKafkaProducer, topics: Topics) -> Send:
    """``await send(value, key, partition, position)``: one record as the relay sends it."""

    async def _send(value: bytes, key: str, partition: int, position: int) -> None:
        headers = [(POSITION_HEADER, str(position).encode())]
        await producer.send_and_wait(
            topics.changes, value, key=key.encode(), partition=partition, headers=headers
        )

    return _send


async def _send_event(send: Send, event: ResourceChanged, partition: int, position: int) -> None:
    await send(event.to_json(), event.key, partition, position)


@pytest.fixture
async def start_indexer(
    engine_kind: str, kafka_broker: LocalKafka, opensearch_server: LocalOpenSearch, topics: Topics
) -> AsyncIterator[Callable[[], Awaitable[SearchIndexer]]]:
    started: list[SearchIndexer] = []

    async def start(**more: Any) -> SearchIndexer:
        settings = SearchSettings(
            kafka_bootstrap=kafka_broker.bootstrap,
            search_engine_url=opensearch_server.url,
            search_engine_kind=engine_kind,
            search_compatibility_headers=False,
            search_index_prefix=topics.prefix,
            consumer_group=topics.group,
            resource_changes_topic=topics.changes,
            dead_letter_topic=topics.dlq,
            batch_max_wait_ms=20,
            **more,
        )
        indexer = await bootstrap(settings)
        started.append(indexer)
        state = await indexer.engine.state()  # the gateway's repair of an empty primary
        assert await indexer.engine.mark_complete(state.generation, state.gaps)
        await indexer.start()
        return indexer

    yield start
    for indexer in started:
        await indexer.close()


async def _ids(indexer: SearchIndexer, tenant: str, word: str) -> list[str]:
    request = TextSearch(None, (TextClause(TextField.CONTENT, (word,)),))
    return sorted(
        h.id for h in (await indexer.service.search_text(TenantContext.of(tenant), request)).hits
    )


async def _read_dlq(bootstrap: str, topic: str, count: int) -> list[Any]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    records: list[Any] = []
    try:
        for _ in range(100):  # bounded: at most 100 polls of 300 ms
            for batch in (await consumer.getmany(timeout_ms=300)).values():
                records.extend(batch)
            if len(records) >= count:
                break
    finally:
        await consumer.stop()
    return records


async def test_events_become_searchable(
    ev: Any, topics: Topics, send: Send, start_indexer: Any
) -> None:
    indexer = await start_indexer()
    t = topics.tenant
    await _send_event(send, ev.change(t, "a", 1, ev.narrative("influenza")), 0, 1)
    await _send_event(send, ev.change(t, "b", 1, ev.narrative("influenza")), 1, 1)
    await _send_event(send, ev.change(t, "a", 2, ev.narrative("pneumonia")), 0, 2)
    await _send_event(send, ev.change(t, "b", 2, None), 1, 2)
    assert await indexer.service.wait_positions(TenantContext.of(t), {0: 2, 1: 2}, WAIT_MS)
    assert await _ids(indexer, t, "influenza") == []
    assert await _ids(indexer, t, "pneumonia") == ["a"]
    versions = [AppliedVersion("Condition", "a", 2), AppliedVersion("Condition", "b", 2)]
    assert await indexer.service.wait_applied(TenantContext.of(t), versions, 0)
    assert await indexer.service.positions(TenantContext.of(t)) == {0: 2, 1: 2}


async def test_poison_records_are_dead_lettered_and_the_rest_applied(
    ev: Any, topics: Topics, send: Send, start_indexer: Any, kafka_broker: LocalKafka
) -> None:
    indexer = await start_indexer()
    t = topics.tenant
    future = orjson.loads(ev.change(t, "f", 1, ev.narrative("smallpox")).to_json())
    future["schema_version"] = "2.0"
    await _send_event(send, ev.change(t, "a", 1, ev.narrative("cholera")), 0, 1)
    await send(b"not json at all", f"{t}|Condition|x", 0, 2)
    await send(orjson.dumps(future), f"{t}|Condition|f", 0, 3)
    await _send_event(send, ev.change(t, "b", 1, ev.narrative("cholera")), 0, 4)
    assert await indexer.service.wait_positions(TenantContext.of(t), {0: 4}, WAIT_MS)
    assert await _ids(indexer, t, "cholera") == ["a", "b"]
    assert await _ids(indexer, t, "smallpox") == []

    dead = await _read_dlq(kafka_broker.bootstrap, topics.dlq, 2)
    assert len(dead) == 2
    dead.sort(key=lambda r: dict(r.headers)[POSITION_HEADER])  # DLQ partitions: no global order
    headers = [dict(r.headers) for r in dead]
    assert [h[POSITION_HEADER] for h in headers] == [b"2", b"3"]
    assert b"not JSON" in headers[0][DLQ_REASON_HEADER]
    assert b"schema_version '2.0'" in headers[1][DLQ_REASON_HEADER]
    assert {h[DLQ_CONSUMER_HEADER] for h in headers} == {CONSUMER_NAME.encode()}
    assert dead[0].value == b"not json at all"


async def test_stopped_before_commit_catches_up_without_duplicates(
    ev: Any, topics: Topics, send: Send, start_indexer: Any
) -> None:
    t = topics.tenant
    first: SearchIndexer = await start_indexer()
    crashed: list[int] = []
    apply = first.indexer

    async def apply_then_crash(batch: Batch) -> list[Rejection]:
        await apply(batch)  # the batch is in the index ...
        crashed.append(len(batch.deliveries))
        raise ServiceUnavailable("crash before the commit")  # ... but never committed

    assert first.consumer is not None
    first.consumer._handler = apply_then_crash
    for i in range(6):
        await _send_event(
            send, ev.change(t, f"r{i}", 1, ev.narrative("typhoid")), i % 2, i // 2 + 1
        )
    assert await first.service.wait_positions(TenantContext.of(t), {0: 3, 1: 3}, WAIT_MS)
    await first.close()
    assert crashed

    second: SearchIndexer = await start_indexer()
    seen: list[int] = []
    apply2 = second.indexer

    async def counting(batch: Batch) -> list[Rejection]:
        seen.append(len(batch.deliveries))
        return await apply2(batch)

    assert second.consumer is not None
    second.consumer._handler = counting
    await _send_event(send, ev.change(t, "last", 1, ev.narrative("typhoid")), 0, 4)
    assert await second.service.wait_positions(TenantContext.of(t), {0: 4}, WAIT_MS)
    assert sum(seen) == 7  # the uncommitted six came again, plus the new one
    request = TextSearch(None, (TextClause(TextField.NARRATIVE, ("typhoid",)),))
    hits = await second.service.search_text(TenantContext.of(t), request)
    assert hits.total == 7
    assert sorted(h.id for h in hits.hits) == ["last", *(f"r{i}" for i in range(6))]


async def test_a_failing_engine_means_retry_not_loss(
    ev: Any, topics: Topics, send: Send, start_indexer: Any
) -> None:
    indexer: SearchIndexer = await start_indexer()
    t = topics.tenant
    failures: list[int] = []
    apply = indexer.indexer

    async def flaky(batch: Batch) -> list[Rejection]:
        if len(failures) < 2:
            failures.append(len(batch.deliveries))
            raise ServiceUnavailable("engine overloaded")
        return await apply(batch)

    assert indexer.consumer is not None
    indexer.consumer._handler = flaky
    await _send_event(send, ev.change(t, "a", 1, ev.narrative("malaria")), 0, 1)
    assert await indexer.service.wait_applied(
        TenantContext.of(t), [AppliedVersion("Condition", "a", 1)], WAIT_MS
    )
    assert len(failures) == 2
    assert await _ids(indexer, t, "malaria") == ["a"]


async def test_consumer_harness_reports_rejections_of_its_handler(
    ev: Any, topics: Topics, send: Send, kafka_broker: LocalKafka
) -> None:
    handled: list[str] = []

    async def refuse_b(batch: Batch) -> list[Rejection]:
        handled.extend(d.event.resource_id for d in batch.deliveries)
        return [
            Rejection(d, "b is not welcome") for d in batch.deliveries if d.event.resource_id == "b"
        ]

    consumer = BatchConsumer(
        kafka_broker.bootstrap,
        topics.group,
        refuse_b,
        consumer_name="test-consumer",
        options=ConsumerOptions(topic=topics.changes, dead_letter_topic=topics.dlq),
    )
    await consumer.start()
    try:
        t = topics.tenant
        await _send_event(send, ev.change(t, "a", 1, ev.narrative("x")), 0, 1)
        await _send_event(send, ev.change(t, "b", 1, ev.narrative("x")), 0, 2)
        dead = await _read_dlq(kafka_broker.bootstrap, topics.dlq, 1)
    finally:
        await consumer.stop()
    assert sorted(handled) == ["a", "b"]
    assert [dict(r.headers)[DLQ_REASON_HEADER] for r in dead] == [b"b is not welcome"]
    assert [dict(r.headers)[DLQ_CONSUMER_HEADER] for r in dead] == [b"test-consumer"]


async def test_the_indexer_follows_a_broker_restart(
    ev: Any, opensearch_server: LocalOpenSearch, tmp_path: Any
) -> None:
    """An in-memory broker that restarts loses records and offsets; once the relay has
    re-created the topic and sends again, the indexer picks the new records up."""
    t = Topics(ev)
    with LocalKafka(log_dir=tmp_path) as broker:
        settings = SearchSettings(
            kafka_bootstrap=broker.bootstrap,
            kafka_topic_partitions=2,
            search_engine_url=opensearch_server.url,
            search_index_prefix=t.prefix,
            consumer_group=t.group,
            resource_changes_topic=t.changes,
            dead_letter_topic=t.dlq,
            batch_max_wait_ms=20,
        )
        indexer = await bootstrap(settings)
        try:
            state = await indexer.engine.state()  # the gateway's repair of an empty primary
            assert await indexer.engine.mark_complete(state.generation, state.gaps)
            await indexer.start()  # creates the topics with 2 partitions

            async def send_once(event: ResourceChanged, position: int) -> None:
                producer = create_producer(broker.bootstrap)
                await producer.start()
                try:
                    await producer.send_and_wait(
                        t.changes, event.to_json(), key=event.key.encode(), partition=0,
                        headers=[(POSITION_HEADER, str(position).encode())],
                    )  # fmt: skip
                finally:
                    await producer.stop()

            await send_once(ev.change(t.tenant, "a", 1, ev.narrative("yellow fever")), 1)
            assert await indexer.service.wait_positions(TenantContext.of(t.tenant), {0: 1}, WAIT_MS)
            await asyncio.to_thread(broker.restart)
            await ensure_topics(broker.bootstrap, 2, [t.changes, t.dlq])  # as the relay does
            await send_once(ev.change(t.tenant, "b", 1, ev.narrative("yellow fever")), 2)
            assert await indexer.service.wait_positions(TenantContext.of(t.tenant), {0: 2}, 60_000)
            assert await _ids(indexer, t.tenant, "fever") == ["a", "b"]
        finally:
            await indexer.close()


async def test_the_composite_config_s_batch_size_bounds_each_batch(
    ev: Any, topics: Topics, send: Send, start_indexer: Any, tmp_path: Path
) -> None:
    """sync.batch_size of the search backend in POLYFHIR_CONFIG_FILE, not the default 500."""
    config = {
        "backends": [
            {"id": "primary", "role": "primary", "kind": "sqlite", "url": "sqlite:///x.db"},
            {
                "id": "search",
                "role": "search",
                "kind": "opensearch",
                "url": "http://127.0.0.1:9200",
                "sync": {"batch_size": 3},
            },
        ]
    }
    path = tmp_path / "composite.json"
    path.write_bytes(orjson.dumps(config))
    t = topics.tenant
    for n in range(12):  # all waiting before the consumer starts: batches as big as allowed
        await _send_event(send, ev.change(t, f"r{n}", 1, ev.narrative("batch")), 0, n + 1)
    batches = REGISTRY.get_sample_value("polyfhir_search_batch_size_count") or 0.0
    records = REGISTRY.get_sample_value("polyfhir_search_batch_size_sum") or 0.0
    indexer = await start_indexer(config_file=str(path))
    assert await indexer.service.wait_positions(TenantContext.of(t), {0: 12}, WAIT_MS)
    applied = (REGISTRY.get_sample_value("polyfhir_search_batch_size_sum") or 0.0) - records
    count = (REGISTRY.get_sample_value("polyfhir_search_batch_size_count") or 0.0) - batches
    assert applied == 12
    assert count >= 4  # never more than 3 records a batch
