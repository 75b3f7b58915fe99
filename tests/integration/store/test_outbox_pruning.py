"""The relay's pruning on SQLite and PostgreSQL: published rows past the retention window
go, in bounded batches; pending and dead-lettered rows stay, and so does each tenant's
newest published row per partition (a secondary's freshness check reads it)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from polyfhir_bus.events import event_key
from polyfhir_bus.kafka import key_partition
from polyfhir_core.contracts.primary_store import BundleKind, EntryRequest, Method
from polyfhir_core.tenancy import TenantContext, TenantId
from polyfhir_primary.bootstrap import bootstrap
from polyfhir_primary.settings import PrimarySettings

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    """A primary of its own (pruning deletes rows other tests could be reading)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/prune.db"
    else:
        server = request.getfixturevalue("postgres_server")
        url = str(server.create_database(f"prune_{uuid.uuid4().hex[:10]}"))
    app = await bootstrap(PrimarySettings(primary_url=url))
    try:
        yield app
    finally:
        await app.close()


async def _write(store: Any, tenant: str, ids: list[str]) -> None:
    entries = [
        EntryRequest(Method.PUT, f"Patient/{i}", {"resourceType": "Patient", "id": i}) for i in ids
    ]
    await store.service.process(TenantContext.of(tenant), BundleKind.BATCH, entries)


async def _publish_all(database: Any) -> None:
    """What the relay does for every pending row: a position in its partition, then published."""
    rows = await database.outbox_unpositioned(10_000)
    await database.assign_positions({r.seq: key_partition(r.key, 3) for r in rows})
    await database.mark_published([r.seq for r in rows])


async def test_pruning_keeps_pending_dead_lettered_and_each_tenants_newest(store: Any) -> None:
    database = store.database
    tenant = "prune-a"
    ids = [f"p{i}" for i in range(30)]
    await _write(store, tenant, ids)
    await _publish_all(database)
    await _write(store, tenant, ["refused", "waiting"])
    unsent = await database.outbox_unpositioned(100)
    refused = next(r.seq for r in unsent if r.key == event_key(tenant, "Patient", "refused"))
    await database.mark_dead_lettered({refused: "too large"})
    before = await database.positions(TenantId(tenant))

    # nothing is old yet
    assert await database.prune_published(datetime.now(UTC) - timedelta(hours=24), 100) == 0
    # an hour from now every published row is past a zero-length window
    later = datetime.now(UTC) + timedelta(hours=1)
    partitions = {key_partition(event_key(tenant, "Patient", i), 3) for i in ids}
    prunable = len(ids) - len(partitions)  # the newest row of each partition stays
    assert await database.prune_published(later, 10) == 10  # bounded batches
    assert await database.prune_published(later, 1000) == prunable - 10
    assert await database.prune_published(later, 1000) == 0

    assert await database.outbox_backlog() == 1  # "waiting" still pending
    assert [r.seq for r in await database.dead_lettered_outbox(10)] == [refused]
    # the freshness check still sees the tenant's published positions
    assert await database.positions(TenantId(tenant)) == before
