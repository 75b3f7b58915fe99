"""What every secondary fed by the change stream answers, whatever else it serves.

``SearchIndex`` and ``GraphIndex`` (and the terminology index to come) extend
:class:`IndexedSecondary`: the gateway's health checks and SyncMode waits use
:class:`Secondary` (readiness, applied positions, waits), the reconcile and rebuild
jobs use :class:`Repairable` (what it holds, removing it). The calls are served
and proxied from these Protocols like any other contract call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from polyfhir_core.resources import ResourceKey
from polyfhir_core.tenancy import TenantContext


@dataclass(frozen=True, slots=True)
class AppliedVersion:
    """A resource version the caller waits for (the result of a write)."""

    resource_type: str
    id: str
    version: int


@dataclass(frozen=True, slots=True)
class IndexedVersion:
    """What a secondary holds for one resource: its version, and whether it is a tombstone."""

    resource_type: str
    id: str
    version: int
    deleted: bool = False


class Secondary(Protocol):
    async def positions(self, ctx: TenantContext) -> dict[int, int]:
        """Per partition, the highest event position applied (docs/events.md)."""

    async def wait_applied(
        self, ctx: TenantContext, versions: list[AppliedVersion], timeout_ms: int
    ) -> bool:
        """Wait until every version (or a newer one) is applied; ``False`` on timeout."""

    async def wait_positions(
        self, ctx: TenantContext, positions: dict[int, int], timeout_ms: int
    ) -> bool:
        """Wait until the applied position of each partition reaches ``positions``."""

    async def check_ready(self) -> None:
        """Raise ServiceUnavailable when the service or its engine cannot serve."""


class Repairable(Protocol):
    async def versions(self, ctx: TenantContext, keys: list[ResourceKey]) -> list[IndexedVersion]:
        """What the secondary holds for ``keys`` (keys it holds nothing for are left out)."""

    async def scan(
        self, ctx: TenantContext, after: ResourceKey | None, limit: int
    ) -> list[IndexedVersion]:
        """The tenant's entries (tombstones too) in (type, id) order after ``after``."""

    async def remove(self, ctx: TenantContext, keys: list[ResourceKey]) -> int:
        """Drop entries the primary does not know at all (reconcile); returns how many."""

    async def drop_tenant(self, ctx: TenantContext) -> int:
        """Remove every entry of the tenant; returns how many."""


class IndexedSecondary(Secondary, Repairable, Protocol):
    """A secondary fed by the change stream: freshness and repair."""
