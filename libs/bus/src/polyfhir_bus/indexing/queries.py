"""The tenant-bound reads and waits every indexer's internal API answers.

Freshness (positions, waits for positions or versions) and the reconciler's
reads and removals (versions, scan, remove, drop_tenant) mean the same in
every index; an indexer's service derives from :class:`IndexQueries` and adds
its own queries and stats.
"""

from __future__ import annotations

from typing import Protocol

from polyfhir_bus.indexing.freshness import AppliedState, Freshness
from polyfhir_core.contracts.secondary import AppliedVersion, IndexedVersion
from polyfhir_core.errors import BadRequest
from polyfhir_core.resources import ResourceKey
from polyfhir_core.tenancy import TenantContext

MAX_KEYS = 10_000
MAX_WAIT_MS = 60_000


def bounded(what: str, n: int, limit: int) -> None:
    if not 0 <= n <= limit:
        raise BadRequest(f"{what} must be between 0 and {limit}, got {n}")


def capped(timeout_ms: int) -> int:
    """Waits are bounded: negative means do not wait, more than a minute means a minute."""
    return min(max(timeout_ms, 0), MAX_WAIT_MS)


class TenantIndex(AppliedState, Protocol):
    """What every index engine answers per tenant (every statement filters by it)."""

    async def scan(
        self, tenant: str, after: ResourceKey | None, limit: int
    ) -> list[IndexedVersion]: ...

    async def delete(self, tenant: str, keys: list[ResourceKey]) -> int: ...

    async def delete_tenant(self, tenant: str) -> int: ...

    async def ping(self) -> None: ...


class IndexQueries:
    """Every call is bound to one tenant (``ctx``); the engine queries always filter by it."""

    def __init__(self, index: TenantIndex, freshness: Freshness) -> None:
        self._index = index
        self._freshness = freshness

    async def positions(self, ctx: TenantContext) -> dict[int, int]:
        del ctx  # positions are per partition, shared by every tenant
        return await self._freshness.positions()

    async def wait_applied(
        self, ctx: TenantContext, versions: list[AppliedVersion], timeout_ms: int
    ) -> bool:
        bounded("versions", len(versions), MAX_KEYS)
        return await self._freshness.wait_applied(ctx.tenant.value, versions, capped(timeout_ms))

    async def wait_positions(
        self, ctx: TenantContext, positions: dict[int, int], timeout_ms: int
    ) -> bool:
        del ctx
        return await self._freshness.wait_positions(positions, capped(timeout_ms))

    async def versions(self, ctx: TenantContext, keys: list[ResourceKey]) -> list[IndexedVersion]:
        bounded("keys", len(keys), MAX_KEYS)
        return await self._index.versions(ctx.tenant.value, keys)

    async def scan(
        self, ctx: TenantContext, after: ResourceKey | None, limit: int
    ) -> list[IndexedVersion]:
        bounded("limit", limit, MAX_KEYS)
        return await self._index.scan(ctx.tenant.value, after, limit)

    async def remove(self, ctx: TenantContext, keys: list[ResourceKey]) -> int:
        bounded("keys", len(keys), MAX_KEYS)
        return await self._index.delete(ctx.tenant.value, keys)

    async def drop_tenant(self, ctx: TenantContext) -> int:
        return await self._index.delete_tenant(ctx.tenant.value)

    async def check_ready(self) -> None:
        await self._index.ping()
