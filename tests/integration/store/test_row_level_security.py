"""PostgreSQL row-level security (migration 0015, docs/tenancy.md "Row-level security").

A statement that forgets its tenant filter, run through the store's own tenant
session, still sees only that tenant's rows; a transaction bound to no tenant sees
none; housekeeping across tenants (relay, registry) keeps working, also when the
store connects as an ordinary owner rather than a superuser.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from polyfhir_core.contracts.primary_store import BundleKind, EntryRequest, Method
from polyfhir_core.tenancy import TenantContext, TenantId
from polyfhir_primary.adapters.sql.pg_scope import tenant_transaction
from polyfhir_primary.adapters.sql.postgres import PostgresDatabase
from polyfhir_primary.bootstrap import PrimaryStoreApp, bootstrap
from polyfhir_primary.settings import PrimarySettings

pytestmark = pytest.mark.integration


def _as_user(dsn: str, user: str, database: str) -> str:
    parts = urlsplit(dsn)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, f"{user}@{host}", f"/{database}", parts.query, ""))


@pytest.fixture(scope="module")
async def superuser_store(postgres_server: Any) -> AsyncIterator[PrimaryStoreApp]:
    url = postgres_server.create_database(f"rls_{uuid.uuid4().hex[:10]}")
    app = await bootstrap(PrimarySettings(primary_url=url))
    try:
        yield app
    finally:
        await app.close()


@pytest.fixture(scope="module")
async def owner_store(postgres_server: Any) -> AsyncIterator[PrimaryStoreApp]:
    """The store connected as an operator's owner role: no superuser, no BYPASSRLS."""
    admin_url = postgres_server.create_database(f"rls_admin_{uuid.uuid4().hex[:8]}")
    owner, database = f"owner_{uuid.uuid4().hex[:8]}", f"rls_owned_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f"CREATE ROLE {owner} LOGIN CREATEROLE")
        await conn.execute(f"CREATE DATABASE {database} OWNER {owner}")
        # what docs/tenancy.md asks of an operator whose cluster already has the role
        await conn.execute(
            "DO $$ BEGIN CREATE ROLE polyfhir_app NOLOGIN;"
            " EXCEPTION WHEN duplicate_object THEN NULL; END $$"
        )
        await conn.execute(f"GRANT polyfhir_app TO {owner}")
    finally:
        await conn.close()
    app = await bootstrap(PrimarySettings(primary_url=_as_user(admin_url, owner, database)))
    try:
        yield app
    finally:
        await app.close()


def _tenant() -> str:
    return f"rls{uuid.uuid4().hex[:10]}"


async def _write_patients(app: PrimaryStoreApp, tenant: str, *ids: str) -> None:
    entries = [
        EntryRequest(
            Method.PUT,
            f"Patient/{rid}",
            {"resourceType": "Patient", "id": rid, "name": [{"family": f"F{rid}"}]},
        )
        for rid in ids
    ]
    await app.service.process(TenantContext.of(tenant), BundleKind.TRANSACTION, entries)


def _database(app: PrimaryStoreApp) -> PostgresDatabase:
    assert isinstance(app.database, PostgresDatabase)
    return app.database


@pytest.mark.parametrize("table", ["resources", "resource_versions", "idx_string", "outbox"])
async def test_an_unfiltered_select_in_a_tenant_session_sees_only_that_tenant(
    superuser_store: PrimaryStoreApp, table: str
) -> None:
    mine, other = _tenant(), _tenant()
    await _write_patients(superuser_store, mine, "a1", "a2")
    await _write_patients(superuser_store, other, "b1")
    db = _database(superuser_store)
    async with db.session(TenantId(mine), write=False) as session:
        rows = await session.conn.fetch(f"SELECT DISTINCT tenant FROM {table}")  # no filter
    assert [r[0] for r in rows] == [mine]


async def test_a_transaction_bound_to_no_tenant_sees_no_rows(
    superuser_store: PrimaryStoreApp,
) -> None:
    await _write_patients(superuser_store, _tenant(), "n1")
    async with tenant_transaction(_database(superuser_store).pool, None) as raw:
        assert await raw.fetchval("SELECT COUNT(*) FROM resources") == 0
        assert await raw.fetchval("SELECT COUNT(*) FROM idx_token") == 0


async def test_a_tenant_session_cannot_write_a_row_of_another_tenant(
    superuser_store: PrimaryStoreApp,
) -> None:
    mine, other = _tenant(), _tenant()
    async with _database(superuser_store).session(TenantId(mine), write=False) as session:
        with pytest.raises(asyncpg.exceptions.InsufficientPrivilegeError):
            await session.conn.execute(
                "INSERT INTO idx_uri (tenant, res_type, res_id, param, value)"
                " VALUES (?, 'Patient', 'x', 'url', 'v')",
                (other,),
            )


async def test_every_table_with_a_tenant_column_forces_row_level_security(
    superuser_store: PrimaryStoreApp,
) -> None:
    async with _database(superuser_store).pool.acquire() as raw:
        rows = await raw.fetch(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c"
            " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant'"
            " WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace"
        )
    assert len(rows) >= 16
    # tenant_placements says where a tenant lives (a control table of the schema- and
    # database-per-tenant strategies, read only by housekeeping), not what it holds
    assert [r[0] for r in rows if not (r[1] and r[2]) and r[0] != "tenant_placements"] == []


async def test_an_owner_role_keeps_housekeeping_and_is_isolated_in_sessions(
    owner_store: PrimaryStoreApp,
) -> None:
    mine, other = _tenant(), _tenant()
    await _write_patients(owner_store, mine, "o1")
    await _write_patients(owner_store, other, "o2", "o3")
    db = _database(owner_store)
    async with db.pool.acquire() as raw:  # the owner is neither superuser nor BYPASSRLS
        assert not await raw.fetchval(
            "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user"
        )
        assert await raw.fetchval("SELECT COUNT(*) FROM resources") == 0  # no scope: nothing
    pending = {row.tenant for row in await db.pending_outbox(1000)}
    assert {mine, other} <= pending
    assert {mine, other} <= set(await db.tenants())
    async with db.session(TenantId(other), write=False) as session:
        rows = await session.conn.fetch("SELECT res_id FROM resources ORDER BY res_id")
    assert [r[0] for r in rows] == ["o2", "o3"]
    found = await owner_store.service.read(TenantContext.of(mine), "Patient", "o1")
    assert found.id == "o1"
