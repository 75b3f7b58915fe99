"""Which rows a PostgreSQL transaction may see: row-level security (migration 0015).

Every tenant table has ``FORCE ROW LEVEL SECURITY`` and two policies:

- ``polyfhir_tenant`` for the NOLOGIN role ``polyfhir_app``: the rows of the tenant
  named by ``polyfhir.tenant``. A tenant transaction (:func:`tenant_transaction`)
  starts (in the same round trip as its BEGIN) by switching to that role and naming its tenant, both
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
_BIND_NO_TENANT = f"SELECT set_config('role', '{APP_ROLE}', true)"
BIND_SYSTEM = "SELECT set_config('polyfhir.scope', 'system', true)"


def begin_bound(tenant: TenantId | None, *, readonly: bool) -> str:
    """``BEGIN`` and the tenant binding as one simple query (one round trip, not two).

    The tenant is a literal here (a simple query takes no parameters): a
    :class:`TenantId` holds only letters, digits, ``-``, ``_`` and ``/``, and is
    quoted as a string literal all the same."""
    begin = "BEGIN READ ONLY" if readonly else "BEGIN"
    if tenant is None:
        return f"{begin}; {_BIND_NO_TENANT}"
    literal = "'" + tenant.value.replace("'", "''") + "'"
    return (
        f"{begin}; SELECT set_config('role', '{APP_ROLE}', true),"
        f" set_config('polyfhir.tenant', {literal}, true)"
    )


@asynccontextmanager
async def tenant_transaction(
    pool: asyncpg.Pool, tenant: TenantId | None, *, readonly: bool = False
) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection in a transaction bound to ``tenant`` (see the module doc).

    Begun and bound in one round trip (:func:`begin_bound`), committed at the end,
    rolled back on any error; a connection released in a transaction anyway (a
    cancelled rollback) is rolled back by the pool's reset."""
    async with pool.acquire() as raw:
        await raw.execute(begin_bound(tenant, readonly=readonly))
        try:
            yield raw
        except BaseException:
            if not raw.is_closed():
                await raw.execute("ROLLBACK")
            raise
        await raw.execute("COMMIT")


@asynccontextmanager
async def system_transaction(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection in a transaction that sees every tenant: housekeeping only."""
    async with pool.acquire() as raw, raw.transaction():
        await raw.execute(BIND_SYSTEM)
        yield raw
