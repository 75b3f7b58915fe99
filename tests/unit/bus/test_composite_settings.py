"""The composite config's ``sync.batch_size`` and ``retry`` reach every indexer and the
relay: the consumer's batch, retried engine writes, the relay's backoff (fakes)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client import REGISTRY

from fakes import events as ev
from fakes.indexing import MemoryIndex, MemoryIndexer
from polyfhir_bus.consumer import Batch
from polyfhir_bus.indexing.composite import with_composite
from polyfhir_bus.indexing.freshness import Freshness
from polyfhir_bus.indexing.metrics import IndexerMetrics
from polyfhir_bus.indexing.wiring import build_consumer
from polyfhir_bus.kafka import OutgoingRecord
from polyfhir_bus.relay import OutboxRecord, OutboxRelay
from polyfhir_core.config import BackendRole, RetryConfig
from polyfhir_graph.settings import GraphSettings
from polyfhir_primary.bootstrap import relay_settings
from polyfhir_primary.settings import PrimarySettings
from polyfhir_search.settings import SearchSettings

pytestmark = pytest.mark.unit
METRICS = IndexerMetrics.create("retrytest", visible_as="readable")
RETRIES = "polyfhir_retrytest_apply_retries_total"

COMPOSITE: dict[str, Any] = {
    "backends": [
        {"id": "primary", "role": "primary", "kind": "sqlite", "url": "sqlite:///x.db"},
        {"id": "search", "role": "search", "kind": "opensearch", "url": "http://os:9200"},
        {
            "id": "graph",
            "role": "graph",
            "kind": "falkordb",
            "url": "redis://f:6379",
            "sync": {"batch_size": 7},
            "retry": {"max_attempts": 2},
        },
    ],
    "sync": {"batch_size": 42},
    "retry": {"max_attempts": 4, "initial_backoff_ms": 3, "max_backoff_ms": 5},
}


@pytest.fixture
def config_file(tmp_path: Path) -> str:
    path = tmp_path / "composite.json"
    path.write_bytes(orjson.dumps(COMPOSITE))
    return str(path)


def test_each_indexer_takes_its_backend_s_batch_size_and_retry(config_file: str) -> None:
    graph = with_composite(GraphSettings(config_file=config_file), BackendRole.GRAPH)
    search = with_composite(SearchSettings(config_file=config_file), BackendRole.SEARCH)
    assert (graph.batch_size, graph.apply_retry.max_attempts) == (7, 2)
    assert graph.apply_retry.initial_backoff_ms == 3  # the rest from the top level
    assert (search.batch_size, search.apply_retry.max_attempts) == (42, 4)
    named = GraphSettings(config_file=config_file, backend_id="search")
    assert with_composite(named, BackendRole.GRAPH).batch_size == 42


def test_without_a_composite_config_the_indexer_keeps_its_own_settings() -> None:
    settings = GraphSettings(batch_size=9)
    assert with_composite(settings, BackendRole.GRAPH) is settings


def test_the_consumer_fetches_batches_of_the_configured_size(config_file: str) -> None:
    settings = with_composite(
        GraphSettings(config_file=config_file, kafka_bootstrap="127.0.0.1:9"), BackendRole.GRAPH
    )
    index = MemoryIndex()
    handler = MemoryIndexer(index, Freshness(index), METRICS)
    consumer = build_consumer(settings, handler, consumer_name="t", metrics=METRICS)
    assert consumer is not None
    assert consumer.options.max_records == 7


def _retries() -> float:
    return REGISTRY.get_sample_value(RETRIES) or 0.0


async def test_a_failing_engine_write_is_retried_up_to_max_attempts() -> None:
    index = MemoryIndex()
    retry = RetryConfig(max_attempts=3, initial_backoff_ms=1, max_backoff_ms=2)
    indexer = MemoryIndexer(index, Freshness(index, recheck_s=0.01), METRICS, retry)
    event = ev.change("t", "a", 1, {}, "Patient")
    before = _retries()
    index.fail_next = 2
    assert await indexer(Batch([ev.delivery(event, 0, 1)], {0: 1})) == []
    assert index.attempts == 3
    assert _retries() - before == 2
    assert ("t", "Patient", "a") in index.entries

    index.fail_next, index.attempts = 3, 0
    with pytest.raises(ConnectionError):  # the consumer redelivers the batch later
        await indexer(Batch([ev.delivery(ev.change("t", "b", 1, {}, "Patient"), 0, 2)], {0: 2}))
    assert index.attempts == 3


def test_the_relay_takes_the_primary_s_batch_size_and_retry(config_file: str) -> None:
    relay = relay_settings(PrimarySettings(config_file=config_file))
    assert relay.batch_size == 42
    assert relay.retry.delays_ms() == (3, 5, 5)
    assert relay_settings(PrimarySettings(relay_batch_size=11)).batch_size == 11


class DownPublisher:
    def __init__(self) -> None:
        self.attempts = 0

    async def prepare(self) -> int:
        self.attempts += 1
        raise ConnectionError("broker down")

    async def publish(self, records: Sequence[OutgoingRecord]) -> list[BaseException | None]:
        raise AssertionError("never reached: prepare fails")

    async def close(self) -> None:
        pass


class EmptyOutbox:
    async def outbox_unpositioned(self, limit: int) -> list[OutboxRecord]:
        return []

    async def outbox_positioned(self, limit: int) -> list[OutboxRecord]:
        return []

    async def assign_positions(self, partitions: Mapping[int, int]) -> dict[int, int]:
        return {}

    async def mark_published(self, seqs: Sequence[int]) -> None:
        pass

    async def mark_dead_lettered(self, reasons: Mapping[int, str]) -> None:
        pass

    async def outbox_backlog(self) -> int:
        return 0

    async def claim_relay(self, wake: Callable[[], None]) -> bool:
        return True

    async def release_relay(self) -> None:
        pass

    async def prune_published(self, before: datetime, limit: int) -> int:
        return 0


async def test_the_relay_backs_off_as_the_composite_retry_says(config_file: str) -> None:
    settings = relay_settings(PrimarySettings(config_file=config_file))
    publisher = DownPublisher()
    waits: list[float] = []

    async def backoff(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) >= 5:
            raise asyncio.CancelledError

    relay = OutboxRelay(EmptyOutbox(), publisher, settings, backoff=backoff)
    with pytest.raises(asyncio.CancelledError):
        await relay.run()
    assert waits == [0.003, 0.005, 0.005, 0.005, 0.005]
    assert publisher.attempts == 5  # never given up: the outbox holds the rows
