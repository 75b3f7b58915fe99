"""What the service layer needs from a graph engine (implemented in ``adapters/``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from polyfhir_bus.indexing import batch as indexing
from polyfhir_bus.indexing.batch import Outcome
from polyfhir_bus.indexing.queries import TenantIndex
from polyfhir_core.contracts.graph_index import CompartmentPage, GraphHits, LinkCount
from polyfhir_core.contracts.secondary import IndexedVersion
from polyfhir_core.resources import ResourceKey
from polyfhir_graph.domain.paths import GraphPath
from polyfhir_graph.domain.records import GraphRecord

__all__ = [
    "CompartmentQuery",
    "GraphCounts",
    "GraphRefused",
    "GraphStore",
    "ItemResult",
    "Outcome",
]

ItemResult = indexing.ItemResult[GraphRecord]


class GraphRefused(Exception):
    """The engine refused a write for a reason retrying will not fix."""


@dataclass(frozen=True, slots=True)
class CompartmentQuery:
    """Resources whose ``Type|param`` edge (one of ``links``) reaches one of the patients."""

    patient_ids: tuple[str, ...]
    links: tuple[str, ...]
    types: tuple[str, ...] | None
    since: datetime | None
    after: ResourceKey | None
    limit: int


@dataclass(frozen=True, slots=True)
class GraphCounts:
    """What a tenant's graph holds: live resources per type, tombstones, and the
    references per (source type, parameter, target type)."""

    live: dict[str, int]
    tombstones: int
    links: tuple[LinkCount, ...]


class GraphStore(TenantIndex, Protocol):
    """One reference graph (nodes, edges and per-partition applied positions) in one engine.

    Every statement names the tenant: a walk never leaves it. Transient failures
    (engine unreachable) raise :class:`polyfhir_core.errors.ServiceUnavailable`;
    a refused write raises :class:`GraphRefused`.
    """

    async def ensure_schema(self) -> None: ...

    async def apply(self, records: list[GraphRecord]) -> list[ItemResult]:
        """Write nodes and replace their edges, guarded by version; never lowers one."""

    async def record_positions(self, positions: dict[int, int]) -> None:
        """Raise the stored applied position of each partition (never lowers one)."""

    async def positions(self) -> dict[int, int]: ...

    async def walk(self, tenant: str, path: GraphPath, limit: int) -> GraphHits: ...

    async def compartment(self, tenant: str, query: CompartmentQuery) -> CompartmentPage: ...

    async def versions(self, tenant: str, keys: list[ResourceKey]) -> list[IndexedVersion]: ...

    async def scan(
        self, tenant: str, after: ResourceKey | None, limit: int
    ) -> list[IndexedVersion]: ...

    async def delete(self, tenant: str, keys: list[ResourceKey]) -> int: ...

    async def delete_tenant(self, tenant: str) -> int: ...

    async def count(self, tenant: str) -> GraphCounts: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...
