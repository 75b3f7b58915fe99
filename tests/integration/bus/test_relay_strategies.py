"""The relay publishes every tenant's changes under schema per tenant and database per
tenant alike: one stream, per-resource order, positions gapless per partition across
tenants, and each tenant's freshness answer (``positions``) matching what it published."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from integration.bus import test_relay
from integration.bus.conftest import StartStore, eventually, read_topic
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
def strategy(request: pytest.FixtureRequest) -> tuple[str, str]:
    backend, name = request.param
    return backend, name


@pytest.fixture
def database_url(request: pytest.FixtureRequest, strategy: tuple[str, str], tmp_path: Path) -> str:
    if strategy[0] == "sqlite":
        return f"sqlite:///{tmp_path}/control.db"
    server = request.getfixturevalue("postgres_server")
    return str(server.create_database(f"relay_{uuid.uuid4().hex[:10]}"))


@pytest.fixture
async def start_store(database_url: str, strategy: tuple[str, str]) -> AsyncIterator[StartStore]:
    """As the relay tests' own, under the strategy, with fewer open tenant databases
    than the tests have tenants (the relay leases them)."""
    apps: list[PrimaryStoreApp] = []

    async def start(kafka_bootstrap: str, **overrides: Any) -> PrimaryStoreApp:
        settings = PrimarySettings(
            primary_url=database_url,
            kafka_bootstrap=kafka_bootstrap,
            relay_poll_ms=200,
            tenancy_strategy=strategy[1],
            tenant_pools_max=2,
            **overrides,
        )
        app = await bootstrap(settings)
        apps.append(app)
        return app

    yield start
    for app in apps:
        await app.close()


# The relay's own behaviour tests, again under each strategy.
test_committed_writes_reach_the_topic_in_commit_order = (
    test_relay.test_committed_writes_reach_the_topic_in_commit_order
)
test_writes_succeed_while_the_broker_is_down_and_drain_when_it_returns = (
    test_relay.test_writes_succeed_while_the_broker_is_down_and_drain_when_it_returns
)
test_a_relay_that_dies_between_ack_and_mark_resends_with_the_same_positions = (
    test_relay.test_a_relay_that_dies_between_ack_and_mark_resends_with_the_same_positions
)


async def test_every_tenants_changes_reach_the_topic(
    start_store: StartStore, broker: LocalKafka
) -> None:
    placed_app = await start_store(broker.bootstrap)
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
        backlog: int = await placed_app.database.outbox_backlog()
        return backlog == 0

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
