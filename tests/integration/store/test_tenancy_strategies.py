"""Schema per tenant and database per tenant, as an operator would check them: each
tenant's rows are physically somewhere else, the hierarchy's levels are tenants of
their own, migrations reach every tenant at startup, the open tenant databases stay
within their bound, and a dropped tenant is gone (and can come back empty)."""

from __future__ import annotations

import logging
import sqlite3
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from integration.bus.conftest import eventually
from integration.store.conftest import STRATEGIES
from polyfhir_core.contracts.primary_store import BundleKind, EntryRequest, Method
from polyfhir_core.errors import NotFound
from polyfhir_core.search import parse_search
from polyfhir_core.tenancy import TenantContext, TenantId
from polyfhir_primary.adapters.sql.tenancy.database_per_tenant import DatabasePerTenant
from polyfhir_primary.adapters.sql.tenancy.schema_per_tenant import SchemaPerTenantDatabase
from polyfhir_primary.bootstrap import PrimaryStoreApp, bootstrap
from polyfhir_primary.settings import PrimarySettings

pytestmark = pytest.mark.integration


def placement(app: PrimaryStoreApp) -> SchemaPerTenantDatabase | DatabasePerTenant:
    assert isinstance(app.database, SchemaPerTenantDatabase | DatabasePerTenant)
    return app.database


class Placed:
    """A fresh primary under one strategy, and raw access to where its tenants live."""

    def __init__(self, backend: str, strategy: str, url: str, folder: Path) -> None:
        self.backend, self.strategy, self.url, self.folder = backend, strategy, url, folder
        self.app: PrimaryStoreApp | None = None

    async def start(self, **settings: Any) -> PrimaryStoreApp:
        self.app = await bootstrap(
            PrimarySettings(primary_url=self.url, tenancy_strategy=self.strategy, **settings)
        )
        return self.app

    async def location(self, tenant: str) -> str:
        assert self.app is not None
        return await placement(self.app).provision(TenantId(tenant))

    async def sql(self, location: str | None, statement: str) -> list[tuple[Any, ...]]:
        """Run ``statement`` where ``location`` lives (None: the control database)."""
        if self.backend == "sqlite":
            path = self.folder / "control.db"
            if location is not None:
                path = self.folder / "control.db.tenants" / location
            with sqlite3.connect(path) as db:
                return list(db.execute(statement).fetchall())
        dsn = self.url
        if self.strategy == "database" and location is not None:
            dsn = urlunsplit(urlsplit(self.url)._replace(path=f"/{location}"))
        elif location is not None:
            statement = statement.replace("FROM ", f'FROM "{location}".', 1)
        conn = await asyncpg.connect(dsn)
        try:
            return [tuple(r) for r in await conn.fetch(statement)]
        finally:
            await conn.close()

    async def exists(self, location: str) -> bool:
        if self.backend == "sqlite":
            return (self.folder / "control.db.tenants" / location).exists()
        catalog = (
            "pg_namespace WHERE nspname"
            if self.strategy == "schema"
            else ("pg_database WHERE datname")
        )
        return bool(await self.sql(None, f"SELECT 1 FROM {catalog} = '{location}'"))


@pytest.fixture(params=STRATEGIES, ids=lambda p: f"{p[0]}-{p[1]}")
async def placed(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Placed]:
    backend, strategy = request.param
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path}/control.db"
    else:
        server = request.getfixturevalue("postgres_server")
        url = str(server.create_database(f"placed_{uuid.uuid4().hex[:10]}"))
    p = Placed(backend, strategy, url, tmp_path)
    yield p
    if p.app is not None:
        await p.app.close()


def _put(rid: str, **fields: object) -> EntryRequest:
    return EntryRequest(
        Method.PUT, f"Patient/{rid}", {"resourceType": "Patient", "id": rid, **fields}
    )


async def _write(app: PrimaryStoreApp, tenant: str, *entries: EntryRequest) -> None:
    responses = await app.service.process(
        TenantContext.of(tenant), BundleKind.TRANSACTION, list(entries)
    )
    assert all(r.ok for r in responses), responses


async def test_each_tenant_lives_in_its_own_schema_or_database(placed: Placed) -> None:
    app = await placed.start()
    a, b = f"a{uuid.uuid4().hex[:8]}", f"b{uuid.uuid4().hex[:8]}"
    child = f"{a}/research"
    await _write(app, a, _put("pa"))
    await _write(app, b, _put("pb"))
    await _write(app, child, _put("pc"))
    where = {t: await placed.location(t) for t in (a, b, child)}
    assert len(set(where.values())) == 3  # the child is a tenant of its own, placed apart
    for tenant, location in where.items():
        rows = await placed.sql(location, "SELECT tenant, res_id FROM resources")
        assert {r[0] for r in rows} == {tenant}
    assert await placed.sql(None, "SELECT tenant FROM resources") == []  # control: none
    with pytest.raises(NotFound):
        await app.service.read(TenantContext.of(b), "Patient", "pa")
    with pytest.raises(NotFound):  # a parent does not read its child's data
        await app.service.read(TenantContext.of(a), "Patient", "pc")
    page = await app.service.search(TenantContext.of(a), parse_search("Patient", []))
    assert [s.id for s in page.resources] == ["pa"]


async def test_a_tenant_never_written_reads_nothing(placed: Placed) -> None:
    app = await placed.start()
    await _write(app, f"w{uuid.uuid4().hex[:8]}", _put("p1"))
    nobody = TenantContext.of(f"n{uuid.uuid4().hex[:8]}")
    with pytest.raises(NotFound):
        await app.service.read(nobody, "Patient", "p1")
    assert (await app.service.search(nobody, parse_search("Patient", []))).resources == []
    assert nobody.tenant.value not in await app.database.tenants()


async def test_migrations_reach_every_tenant_at_startup(
    placed: Placed, caplog: pytest.LogCaptureFixture
) -> None:
    app = await placed.start()
    tenants = [f"m{i}{uuid.uuid4().hex[:6]}" for i in range(3)]
    for tenant in tenants:
        await _write(app, tenant, _put("p"))
    lagging = await placed.location(tenants[1])
    await app.close()
    placed.app = None
    last = 9 if placed.backend == "sqlite" else 14  # token words: a table of its own
    # The tenant looks like one from before that migration: no ledger row, no table.
    for statement in (
        f"DELETE FROM schema_migrations WHERE version = {last}",
        "DROP TABLE idx_token_word",
    ):
        if placed.backend == "sqlite":
            await placed.sql(lagging, statement)
        else:
            qualified = (
                statement
                if placed.strategy == "database"
                else statement.replace("FROM ", f'FROM "{lagging}".').replace(
                    "TABLE ", f'TABLE "{lagging}".'
                )
            )
            await placed.sql(lagging if placed.strategy == "database" else None, qualified)
    assert not await _has_token_words(placed, lagging)

    with caplog.at_level(logging.INFO):
        app = await placed.start()
    assert await _has_token_words(placed, lagging)
    assert "migrated 3/3 tenants" in caplog.text
    for tenant in tenants:
        assert (await app.service.read(TenantContext.of(tenant), "Patient", "p")).version == 1


async def _has_token_words(placed: Placed, location: str) -> bool:
    try:
        await placed.sql(location, "SELECT COUNT(*) FROM idx_token_word")
    except (sqlite3.OperationalError, asyncpg.UndefinedTableError):
        return False
    return True


async def test_dropping_a_tenant_reports_removes_and_allows_it_again(placed: Placed) -> None:
    app = await placed.start()
    gone, kept = f"g{uuid.uuid4().hex[:8]}", f"k{uuid.uuid4().hex[:8]}"
    await _write(app, gone, _put("p1"), _put("p2"))
    await _write(app, gone, _put("p1", active=True))
    await _write(app, kept, _put("p1"))
    location = await placed.location(gone)
    drop = placement(app).drop_tenant
    dropped = await drop(TenantId(gone))
    assert {k: dropped[k] for k in ("resources", "resource_versions", "outbox")} == {
        "resources": 2,
        "resource_versions": 3,
        "outbox": 3,
    }
    assert dropped.get("schema", 0) + dropped.get("database", 0) == 1
    assert not await placed.exists(location)
    assert gone not in await app.database.tenants()
    with pytest.raises(NotFound):
        await app.service.read(TenantContext.of(gone), "Patient", "p1")
    assert (await app.service.read(TenantContext.of(kept), "Patient", "p1")).version == 1
    await _write(app, gone, _put("p1"))  # provisioned again, empty
    assert (await app.service.read(TenantContext.of(gone), "Patient", "p1")).version == 1
    never = await drop(TenantId(f"never{uuid.uuid4().hex[:6]}"))
    assert set(never.values()) == {0}


PER_DATABASE = [s for s in STRATEGIES if s[1] == "database"]


@pytest.mark.parametrize("placed", PER_DATABASE, ids=lambda p: f"{p[0]}-{p[1]}", indirect=True)
async def test_open_tenant_databases_stay_within_the_bound(placed: Placed) -> None:
    app = await placed.start(tenant_pools_max=2, tenant_connections_max=4)
    tenants = [f"b{i}{uuid.uuid4().hex[:6]}" for i in range(5)]
    for round_ in range(2):  # the second round reopens databases closed by the first
        for tenant in tenants:
            await _write(app, tenant, _put("p", active=bool(round_)))
    for tenant in tenants:
        stored = await app.service.read(TenantContext.of(tenant), "Patient", "p")
        assert stored.version == 2
    databases = placement(app)
    assert isinstance(databases, DatabasePerTenant)
    assert databases.databases.most_open == 2
    assert databases.databases.opened > len(tenants)  # closed and opened again, not grown
    if placed.backend == "postgresql":  # the global budget: connections to tenant databases
        control = urlsplit(placed.url).path.lstrip("/")
        rows = await placed.sql(
            None,
            f"SELECT COUNT(*) FROM pg_stat_activity WHERE datname LIKE '{control}_t_%'",
        )
        assert 1 <= rows[0][0] <= 4


@pytest.mark.parametrize("placed", [STRATEGIES[0]], ids=["postgresql-schema"], indirect=True)
async def test_a_growing_tenant_schema_gets_planner_statistics(placed: Placed) -> None:
    """The store itself ANALYZEs a tenant schema's tables as they grow (autovacuum is
    minutes late and never-analysed tables get nested-loop plans)."""
    app = await placed.start()
    tenant = f"s{uuid.uuid4().hex[:8]}"
    await _write(app, tenant, *(_put(f"p{i}") for i in range(120)))
    schema = await placed.location(tenant)

    async def analysed() -> bool:
        rows = await placed.sql(
            None,
            "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables"
            f" WHERE schemaname = '{schema}' AND relname = 'resources'",
        )
        return bool(rows and rows[0][0])

    await eventually(analysed, "the tenant schema's resources to be analysed")


@pytest.mark.parametrize("placed", STRATEGIES, ids=lambda p: f"{p[0]}-{p[1]}", indirect=True)
async def test_a_tenant_dropped_by_another_process_is_written_afresh(placed: Placed) -> None:
    """Another primary-store process of the same database dropped the tenant: this one's
    next write provisions it again instead of writing where the tenant used to be."""
    app = await placed.start()
    tenant = f"d{uuid.uuid4().hex[:8]}"
    await _write(app, tenant, _put("old"))
    other = await bootstrap(
        PrimarySettings(primary_url=placed.url, tenancy_strategy=placed.strategy)
    )
    try:
        assert (await placement(other).drop_tenant(TenantId(tenant)))["resources"] == 1
    finally:
        await other.close()
    await _write(app, tenant, _put("new"))
    stored = await app.service.read(TenantContext.of(tenant), "Patient", "new")
    assert stored.version == 1
    rows = await placed.sql(await placed.location(tenant), "SELECT res_id FROM resources")
    assert rows == [("new",)]


@pytest.mark.parametrize("placed", [STRATEGIES[0]], ids=["postgresql-schema"], indirect=True)
async def test_no_pooled_connection_keeps_a_tenants_search_path(placed: Placed) -> None:
    """The tenant's schema is bound per transaction (SET LOCAL): a connection back in
    the pool, whatever it served, resolves tables in the control schema again."""
    app = await placed.start(pg_pool_min=3, pg_pool_max=3)
    for i in range(6):  # reads and writes of several tenants over the three connections
        tenant = f"sp{i}{uuid.uuid4().hex[:6]}"
        await _write(app, tenant, _put("p"))
        await app.service.read(TenantContext.of(tenant), "Patient", "p")
    database = placement(app)
    assert isinstance(database, SchemaPerTenantDatabase)
    held = [await database.pool.acquire() for _ in range(3)]  # every pooled connection
    try:
        for raw in held:
            assert await raw.fetchval("SELECT current_schema()") == "public"
            assert await raw.fetchval("SELECT COUNT(*) FROM resources") == 0
    finally:
        for raw in held:
            await database.pool.release(raw)


@pytest.mark.parametrize("placed", PER_DATABASE, ids=lambda p: f"{p[0]}-{p[1]}", indirect=True)
async def test_the_relay_hears_of_writes_made_by_another_process(placed: Placed) -> None:
    """A process without the relay tells it (the placement's outbox hint) which tenant
    outbox has new rows: the relay's next read finds them without sweeping every tenant."""
    relay_side = await placed.start(relay_tenants_per_sweep=1)
    await _write(relay_side, f"a{uuid.uuid4().hex[:8]}", _put("first"))  # the lowest id: swept
    assert [r.key for r in await relay_side.database.outbox_unpositioned(100)] != []
    writer = await bootstrap(
        PrimarySettings(primary_url=placed.url, tenancy_strategy=placed.strategy)
    )
    tenant = f"w{uuid.uuid4().hex[:8]}"
    try:
        await _write(writer, tenant, _put("p1"), _put("p2"))
    finally:
        await writer.close()
    keys = {r.key for r in await relay_side.database.outbox_unpositioned(100)}
    assert {f"{tenant}|Patient|p1", f"{tenant}|Patient|p2"} <= keys
