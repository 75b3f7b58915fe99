"""Where a tenant's own database lives, per engine (database per tenant)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from polyfhir_core.tenancy import TenantId
from polyfhir_primary.adapters.sql.dialect import Dialect
from polyfhir_primary.adapters.sql.dialects.postgres import POSTGRES
from polyfhir_primary.adapters.sql.dialects.sqlite import SQLITE
from polyfhir_primary.adapters.sql.postgres import PostgresDatabase
from polyfhir_primary.adapters.sql.sqlite import SqliteDatabase
from polyfhir_primary.adapters.sql.tenancy.naming import database_name, file_name, quoted
from polyfhir_primary.adapters.sql.tenancy.tenant_pools import TenantDatabase


class TenantHome(Protocol):
    dialect: Dialect

    def location(self, tenant: TenantId) -> str: ...

    async def create(self, location: str) -> None:
        """Make the (empty) database exist; nothing when it does."""

    async def open(self, location: str) -> TenantDatabase:
        """The tenant's database, open and migrated."""

    async def destroy(self, location: str) -> None:
        """Remove the database for good (it is closed)."""


class PostgresTenantHome:
    """A database per tenant on the control database's server."""

    dialect: Dialect = POSTGRES

    def __init__(self, control: PostgresDatabase, dsn: str, pool_size: int, page_cost: float):
        parts = urlsplit(dsn)
        self._control_db, self._parts = control, parts
        self._control_name = parts.path.lstrip("/") or parts.username or "polyfhir"
        self._pool_size, self._page_cost = pool_size, page_cost

    def location(self, tenant: TenantId) -> str:
        return database_name(self._control_name, tenant)

    def dsn(self, location: str) -> str:
        return urlunsplit(self._parts._replace(path=f"/{location}"))

    async def create(self, location: str) -> None:
        async with self._control_db.pool.acquire() as raw:
            with contextlib.suppress(asyncpg.exceptions.DuplicateDatabaseError):
                await raw.execute(f"CREATE DATABASE {quoted(location)}")

    async def open(self, location: str) -> TenantDatabase:
        database = PostgresDatabase(self.dsn(location), 1, self._pool_size, self._page_cost)
        await database.open()
        return database

    async def destroy(self, location: str) -> None:
        async with self._control_db.pool.acquire() as raw:
            await raw.execute(f"DROP DATABASE IF EXISTS {quoted(location)} WITH (FORCE)")


class SqliteTenantHome:
    """A file per tenant in one folder."""

    dialect: Dialect = SQLITE

    def __init__(self, directory: Path, readers: int) -> None:
        self._directory, self._readers = directory, readers

    def location(self, tenant: TenantId) -> str:
        return file_name(tenant)

    def path(self, location: str) -> Path:
        return self._directory / location

    async def create(self, location: str) -> None:
        self._directory.mkdir(parents=True, exist_ok=True)  # opening creates the file

    async def open(self, location: str) -> TenantDatabase:
        database = SqliteDatabase(str(self.path(location)), readers=self._readers)
        await database.open()
        return database

    async def destroy(self, location: str) -> None:
        path = self.path(location)
        for suffix in ("", "-wal", "-shm", ".relay-lock"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
