"""A minimal index on the indexer kit (``polyfhir_bus.indexing``): the shape a new
indexer takes, in memory, for the kit's own unit tests."""

from __future__ import annotations

from polyfhir_bus.events import ChangeKind, ResourceChanged
from polyfhir_bus.indexing.batch import IndexedResource, ItemResult, Outcome, VersionedBatchHandler
from polyfhir_bus.indexing.freshness import Freshness
from polyfhir_bus.indexing.metrics import IndexerMetrics
from polyfhir_core.config import RetryConfig
from polyfhir_core.contracts.secondary import IndexedVersion
from polyfhir_core.resources import ResourceKey

Entry = IndexedResource  # what an event leaves in this index: its identity and version


class MemoryIndex:
    """Satisfies ``polyfhir_bus.indexing.queries.TenantIndex``; refuses ids in ``refuse``."""

    def __init__(self, refuse: frozenset[str] = frozenset()) -> None:
        self.entries: dict[tuple[str, str, str], Entry] = {}
        self.stored_positions: dict[int, int] = {}
        self.refuse = refuse
        self.fail_next = 0  # so many writes fail (the engine is briefly down)
        self.attempts = 0

    def apply(self, entries: list[Entry], positions: dict[int, int]) -> list[ItemResult[Entry]]:
        self.attempts += 1
        if self.fail_next > 0:
            self.fail_next -= 1
            raise ConnectionError("memory engine unavailable")
        results: list[ItemResult[Entry]] = []
        for entry in entries:
            key = (entry.tenant, entry.resource_type, entry.resource_id)
            held = self.entries.get(key)
            if entry.resource_id in self.refuse:
                results.append(ItemResult(entry, Outcome.REJECTED))
            elif held is not None and held.version > entry.version:
                results.append(ItemResult(entry, Outcome.STALE))
            else:
                self.entries[key] = entry
                results.append(ItemResult(entry, Outcome.APPLIED))
        for partition, position in positions.items():
            held_position = self.stored_positions.get(partition, 0)
            self.stored_positions[partition] = max(held_position, position)
        return results

    async def positions(self) -> dict[int, int]:
        return dict(self.stored_positions)

    async def versions(self, tenant: str, keys: list[ResourceKey]) -> list[IndexedVersion]:
        found = [self.entries.get((tenant, k.resource_type, k.id)) for k in keys]
        return [IndexedVersion(e.resource_type, e.resource_id, e.version) for e in found if e]

    async def scan(
        self, tenant: str, after: ResourceKey | None, limit: int
    ) -> list[IndexedVersion]:
        start = ("", "") if after is None else (after.resource_type, after.id)
        keys = sorted((t, i) for (tn, t, i) in self.entries if tn == tenant and (t, i) > start)
        return await self.versions(tenant, [ResourceKey(t, i) for t, i in keys[:limit]])

    async def delete(self, tenant: str, keys: list[ResourceKey]) -> int:
        gone = [self.entries.pop((tenant, k.resource_type, k.id), None) for k in keys]
        return sum(1 for g in gone if g is not None)

    async def delete_tenant(self, tenant: str) -> int:
        keys = [k for k in self.entries if k[0] == tenant]
        for key in keys:
            del self.entries[key]
        return len(keys)

    async def ping(self) -> None:
        return None


class MemoryIndexer(VersionedBatchHandler[Entry]):
    def __init__(
        self,
        index: MemoryIndex,
        freshness: Freshness,
        metrics: IndexerMetrics,
        retry: RetryConfig | None = None,
    ) -> None:
        super().__init__(freshness, metrics, "memory engine", retry)
        self._index = index

    def _items(self, events: list[ResourceChanged]) -> list[Entry]:
        return [
            Entry(
                e.tenant,
                e.resource_type,
                e.resource_id,
                e.version,
                e.last_updated,
                e.kind is ChangeKind.DELETED,
            )
            for e in events
        ]

    async def _apply(
        self, items: list[Entry], positions: dict[int, int]
    ) -> list[ItemResult[Entry]]:
        return self._index.apply(items, positions)
