"""``polyfhir-search-indexer`` as its own process, configured only by ``POLYFHIR_*``
variables, exactly as the stack runs it: events on Kafka become searchable through
the ``SearchIndex`` contract client."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from polyfhir_bus.events import POSITION_HEADER
from polyfhir_bus.kafka import create_producer, ensure_topics
from polyfhir_core.contracts.search_index import SEARCH_INDEX, TextClause, TextField, TextSearch
from polyfhir_core.tenancy import TenantContext
from polyfhir_engines.osmem import LocalOpenSearch
from polyfhir_engines.processes import free_port, spawn, stop, wait_http
from polyfhir_engines.tansu import LocalKafka
from polyfhir_servicekit.contract_client import ServiceClients

pytestmark = pytest.mark.integration


def _command() -> list[str]:
    script = Path(sys.executable).parent / "polyfhir-search-indexer"
    return [str(script)] if script.exists() else [shutil.which("polyfhir-search-indexer") or ""]


async def test_the_service_process_indexes_and_answers(
    ev: Any,
    engine_kind: str,
    kafka_broker: LocalKafka,
    opensearch_server: LocalOpenSearch,
    tmp_path: Path,
) -> None:
    topic, tenant, port = ev.unique("changes"), ev.unique("tenant"), free_port()
    ctx = TenantContext.of(tenant)
    await ensure_topics(kafka_broker.bootstrap, 1, [topic])
    env = {
        "POLYFHIR_KAFKA_BOOTSTRAP": kafka_broker.bootstrap,
        "POLYFHIR_SEARCH_ENGINE_URL": opensearch_server.url,
        "POLYFHIR_SEARCH_ENGINE_KIND": engine_kind,
        "POLYFHIR_SEARCH_COMPATIBILITY_HEADERS": "false",
        "POLYFHIR_SEARCH_INDEX_PREFIX": ev.unique("proc"),
        "POLYFHIR_CONSUMER_GROUP": ev.unique("group"),
        "POLYFHIR_RESOURCE_CHANGES_TOPIC": topic,
        "POLYFHIR_DEAD_LETTER_TOPIC": ev.unique("dlq"),
        "POLYFHIR_PORT": str(port),
    }
    proc = spawn(_command(), env, tmp_path / "search-indexer.log")
    clients = ServiceClients()
    index = clients.connect(SEARCH_INDEX, f"http://127.0.0.1:{port}")
    producer = create_producer(kafka_broker.bootstrap)
    try:
        await asyncio.to_thread(wait_http, f"http://127.0.0.1:{port}/readyz", proc)
        state = await index.index_state(ctx)  # a new index holds nothing yet: not complete
        assert state.generation and not state.complete
        assert await index.mark_complete(ctx, state.generation, state.gaps)
        await producer.start()
        event = ev.change(tenant, "a", 1, ev.narrative("Acute sinusitis"))
        await producer.send_and_wait(
            topic, event.to_json(), key=event.key.encode(), partition=0,
            headers=[(POSITION_HEADER, b"1")],
        )  # fmt: skip
        assert await index.wait_positions(TenantContext.of(tenant), {0: 1}, 30_000)
        request = TextSearch(("Condition",), (TextClause(TextField.NARRATIVE, ("sinus*",)),))
        assert [
            h.id for h in (await index.search_text(TenantContext.of(tenant), request)).hits
        ] == ["a"]
        assert (await index.stats(TenantContext.of(tenant))).documents == 1
    finally:
        await producer.stop()
        await clients.close()
        await asyncio.to_thread(stop, proc)
