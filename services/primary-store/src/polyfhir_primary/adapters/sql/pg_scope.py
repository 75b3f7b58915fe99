"""Which rows a PostgreSQL transaction may see: row-level security (migration 0015).

Every tenant table has ``FORCE ROW LEVEL SECURITY`` and two policies:

- ``polyfhir_tenant`` for the NOLOGIN role ``polyfhir_app``: the rows of the tenant
  named by ``polyfhir.tenant``. A tenant transaction (:func:`tenant_transaction`)
  starts with one statement that switches to that role and names its tenant, both
  transaction-local (``set_config(..., true)``): the pooled connection carries nothing
  to its next use. Without a tenant nothing matches, so a statement that forgot its
  ``tenant = ?`` filter still sees only its own tenant's rows.
- ``polyfhir_system`` for the role that ran the migrations (the owner): every row, but
  only in a transaction that declared ``polyfhir.scope = 'system'``
  (:func:`system_transaction`): migrations, the outbox relay, job claims, the tenants
  registry. Request handling never opens one. A superuser (the embedded PostgreSQL
  of the tests) bypasses policies anyway; an ordinary owner is bound by them.

docs/tenancy.md, "Row-level security", says what an operator must grant.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from polyfhir_core.tenancy import TenantId

APP_ROLE = "polyfhir_app"
_BIND_TENANT = (
    f"SELECT set_config('role', '{APP_ROLE}', true), set_config('polyfhir.tenant', $1, true)"
)
_BIND_NO_TENANT = f"SELECT set_config('role', '{APP_ROLE}', true)"
BIND_SYSTEM = "SELECT set_config('polyfhir.scope', 'system', true)"


async def bind_tenant(raw: asyncpg.Connection, tenant: TenantId | None) -> None:
    """Inside an open transaction: run the rest of it as ``tenant`` (None: as no tenant,
    which sees no row of any tenant table)."""
    if tenant is None:
        await raw.execute(_BIND_NO_TENANT)
    else:
        await raw.execute(_BIND_TENANT, tenant.value)


@asynccontextmanager
async def tenant_transaction(
    pool: asyncpg.Pool, tenant: TenantId | None, *, readonly: bool = False
) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection in a transaction bound to ``tenant`` (see the module doc)."""
    async with pool.acquire() as raw, raw.transaction(readonly=readonly):
        await bind_tenant(raw, tenant)
        yield raw


@asynccontextmanager
async def system_transaction(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection in a transaction that sees every tenant: housekeeping only."""
    async with pool.acquire() as raw, raw.transaction():
        await raw.execute(BIND_SYSTEM)
        yield raw
