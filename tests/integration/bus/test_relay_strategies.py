"""The relay publishes every tenant's changes under schema per tenant and database per
tenant alike: one stream, per-resource order, positions gapless per partition across
tenants, and each tenant's freshness answer (``positions``) matching what it published."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from integration.bus.conftest import eventually, read_topic
from integration.bus.test_relay import assert_gapless, put, write
from integration.store.conftest import STRATEGIES
from polyfhir_bus.events import ResourceChanged
from polyfhir_core.contracts.primary_store import BundleKind, EntryRequest, Method
from polyfhir_core.tenancy import TenantContext
from polyfhir_engines.tansu import LocalKafka
from polyfhir_primary.bootstrap import PrimaryStoreApp, bootstrap
from polyfhir_primary.settings import PrimarySettings

pytestmark = pytest.mark.integration


@pytest.fixture(params=STRATEGIES, ids=lambda p: f"{p[0]}-{p[1]}")
async def placed_app(
    request: pytest.FixtureRequest, tmp_path: Path, broker: LocalKafka
) -> AsyncIterator[PrimaryStoreApp]:
    backend, strategy = request.param
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path}/control.db"
    else:
        server = request.getfixturevalue("postgres_server")
        url = str(server.create_database(f"relay_{uuid.uuid4().hex[:10]}"))
    app = await bootstrap(
        PrimarySettings(
            primary_url=url,
            tenancy_strategy=strategy,
            kafka_bootstrap=broker.bootstrap,
            relay_poll_ms=200,
            tenant_pools_max=2,  # fewer open databases than tenants: the relay leases them
        )
    )
    yield app
    await app.close()


async def test_every_tenants_changes_reach_the_topic(
    placed_app: PrimaryStoreApp, broker: LocalKafka
) -> None:
    base = f"r{uuid.uuid4().hex[:8]}"
    tenants = [base, f"{base}/research", f"x{uuid.uuid4().hex[:8]}"]
    for tenant in tenants:
        ctx = TenantContext.of(tenant)
        await write(placed_app, ctx, *(put("Patient", f"p{i}") for i in range(4)))
        await write(placed_app, ctx, put("Patient", "p0", active=True))
        await placed_app.service.process(
            ctx, BundleKind.TRANSACTION, [EntryRequest(Method.DELETE, "Patient/p1")]
        )
    expected = 6 * len(tenants)

    async def drained() -> bool:
        return await placed_app.database.outbox_backlog() == 0

    await eventually(drained, "every tenant's outbox to drain")
    records = await read_topic(broker.bootstrap, expected=expected)
    assert len(records) == expected
    assert_gapless(records)  # one position counter for every tenant
    versions: dict[str, list[int]] = defaultdict(list)
    for r in records:
        event = ResourceChanged.from_json(r.value)
        assert r.key == event.key
        versions[r.key].append(event.version)
    for tenant in tenants:
        assert versions[f"{tenant}|Patient|p0"] == [1, 2]
        assert versions[f"{tenant}|Patient|p1"] == [1, 2]
        mine = [r for r in records if r.key.startswith(f"{tenant}|")]
        last = {
            p: max(r.position for r in mine if r.partition == p)
            for p in {r.partition for r in mine}
        }
        positions = await placed_app.service.positions(TenantContext.of(tenant))
        assert (positions.partitions, positions.pending) == (last, 0)
