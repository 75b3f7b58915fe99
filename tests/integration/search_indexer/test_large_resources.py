"""A resource too large for the broker is indexed all the same: the relay sends it as a
claim check and the search-indexer's consumer reads its body from the primary (vread)
before indexing; another tenant's write right after it is indexed too. Both primary
engines, the real broker (Tansu) and search engine (osmem)."""

from __future__ import annotations

import random
import string
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from integration.bus.conftest import read_topic
from polyfhir_bus.events import CLAIM_CHECK_SCHEMA_VERSION
from polyfhir_core.contracts.primary_store import BundleKind, EntryRequest, Method
from polyfhir_core.contracts.search_index import TextClause, TextField, TextSearch
from polyfhir_core.tenancy import TenantContext
from polyfhir_engines.osmem import LocalOpenSearch
from polyfhir_engines.tansu import LocalKafka
from polyfhir_primary.bootstrap import PrimaryStoreApp
from polyfhir_primary.bootstrap import bootstrap as primary_bootstrap
from polyfhir_primary.settings import PrimarySettings
from polyfhir_search.bootstrap import SearchIndexer
from polyfhir_search.bootstrap import bootstrap as indexer_bootstrap
from polyfhir_search.settings import SearchSettings
from support import eventually

pytestmark = pytest.mark.integration
LIMIT = 256 * 1024  # the broker's message limit in this test


@pytest.fixture(params=("sqlite", "postgresql"))
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/primary.db"
    server = request.getfixturevalue("postgres_server")
    return str(server.create_database(f"large_{uuid.uuid4().hex[:10]}"))


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[LocalKafka]:
    with LocalKafka(log_dir=tmp_path) as kafka:
        yield kafka


@pytest.fixture
async def primary(database_url: str, broker: LocalKafka) -> AsyncIterator[PrimaryStoreApp]:
    settings = PrimarySettings(
        primary_url=database_url,
        kafka_bootstrap=broker.bootstrap,
        kafka_max_message_bytes=LIMIT,
        relay_poll_ms=200,
    )
    app = await primary_bootstrap(settings)
    try:
        yield app
    finally:
        await app.close()


@pytest.fixture
async def search(
    primary: PrimaryStoreApp, broker: LocalKafka, opensearch_server: LocalOpenSearch
) -> AsyncIterator[SearchIndexer]:
    settings = SearchSettings(
        kafka_bootstrap=broker.bootstrap,
        search_engine_url=opensearch_server.url,
        search_index_prefix=f"large-{uuid.uuid4().hex[:10]}",
        consumer_group=f"large-{uuid.uuid4().hex[:10]}",
        batch_max_wait_ms=20,
    )
    indexer = await indexer_bootstrap(settings, primary=primary.service)  # vread in-process
    admin = TenantContext.of("admin")
    state = await indexer.service.index_state(admin)  # a new index is complete: nothing missed
    assert await indexer.service.mark_complete(admin, state.generation, state.gaps)
    await indexer.start()
    try:
        yield indexer
    finally:
        await indexer.close()


def words(count: int, seed: int) -> str:
    rng = random.Random(seed)
    return " ".join("".join(rng.choices(string.ascii_lowercase, k=7)) for _ in range(count))


async def write(app: PrimaryStoreApp, tenant: str, rid: str, text: str) -> None:
    div = f'<div xmlns="http://www.w3.org/1999/xhtml">{text}</div>'
    body = {"resourceType": "Patient", "id": rid, "text": {"status": "generated", "div": div}}
    entry = EntryRequest(Method.PUT, f"Patient/{rid}", body)
    [response] = await app.service.process(TenantContext.of(tenant), BundleKind.BATCH, [entry])
    assert response.ok, response


async def found(indexer: SearchIndexer, tenant: str, word: str) -> list[str] | None:
    request = TextSearch(None, (TextClause(TextField.CONTENT, (word,)),))
    hits = await indexer.service.search_text(TenantContext.of(tenant), request)
    return sorted(h.id for h in hits.hits) or None


async def test_a_resource_too_large_for_the_broker_is_indexed_from_the_primary(
    primary: PrimaryStoreApp, search: SearchIndexer, broker: LocalKafka, tenant: str
) -> None:
    # ~1.1 MB of narrative, ~600 KB gzip-compressed: more than the broker takes
    await write(primary, tenant, "large", f"quokkaword {words(140_000, 7)}")
    other = f"{tenant}-other"
    await write(primary, other, "small", "wombatword")  # another tenant, right after

    assert await eventually(lambda: found(search, other, "wombatword"), 60, "the small one")
    assert await eventually(lambda: found(search, tenant, "quokkaword"), 60, "the large one") == [
        "large"
    ]
    assert (await primary.service.positions(TenantContext.of(tenant))).pending == 0
    assert await primary.database.dead_lettered_outbox(10) == []
    schemas = {r.key: r.schema for r in await read_topic(broker.bootstrap, expected=2)}
    assert schemas[f"{tenant}|Patient|large"] == CLAIM_CHECK_SCHEMA_VERSION  # no body on the bus
