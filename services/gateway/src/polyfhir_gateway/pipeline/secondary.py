"""What the gateway needs of any secondary, whatever it answers.

Both ``SearchIndex`` and ``GraphIndex`` (``polyfhir_core.contracts``) satisfy
these: :class:`Secondary` for health checks and freshness waits (readiness,
applied positions, the waits for positions and versions), :class:`Repairable`
for the reconcile and rebuild jobs (what it holds, and removing it).
"""

from __future__ import annotations

from typing import Protocol

from polyfhir_core.contracts.search_index import AppliedVersion, IndexedVersion
from polyfhir_core.resources import ResourceKey
from polyfhir_core.tenancy import TenantContext


class Secondary(Protocol):
    async def positions(self, ctx: TenantContext) -> dict[int, int]: ...

    async def wait_applied(
        self, ctx: TenantContext, versions: list[AppliedVersion], timeout_ms: int
    ) -> bool: ...

    async def wait_positions(
        self, ctx: TenantContext, positions: dict[int, int], timeout_ms: int
    ) -> bool: ...

    async def check_ready(self) -> None: ...


class Repairable(Protocol):
    async def versions(
        self, ctx: TenantContext, keys: list[ResourceKey]
    ) -> list[IndexedVersion]: ...

    async def scan(
        self, ctx: TenantContext, after: ResourceKey | None, limit: int
    ) -> list[IndexedVersion]: ...

    async def remove(self, ctx: TenantContext, keys: list[ResourceKey]) -> int: ...

    async def drop_tenant(self, ctx: TenantContext) -> int: ...
