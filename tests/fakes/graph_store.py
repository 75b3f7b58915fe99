"""An in-memory ``GraphStore`` (the graph-indexer's engine port) for unit tests.

Keeps the highest version per resource and its references; refuses the resource ids
listed in ``refuse`` the way an engine refuses a statement (``GraphRefused``), and
counts the apply calls so a test can see a batch split into single records.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from polyfhir_core.contracts.graph_index import CompartmentPage, GraphHits, LinkCount
from polyfhir_core.contracts.secondary import IndexedVersion
from polyfhir_core.resources import ResourceKey
from polyfhir_graph.domain.paths import GraphPath
from polyfhir_graph.domain.records import GraphRecord
from polyfhir_graph.service_layer.ports import (
    CompartmentQuery,
    GraphCounts,
    GraphRefused,
    ItemResult,
    Outcome,
)

Key = tuple[str, str, str]  # tenant, type, id


@dataclass
class MemoryGraph:
    refuse: frozenset[str] = frozenset()
    nodes: dict[Key, GraphRecord] = field(default_factory=dict)
    stored_positions: dict[int, int] = field(default_factory=dict)
    apply_calls: list[int] = field(default_factory=list)

    async def ensure_schema(self) -> None:
        return None

    async def apply(self, records: list[GraphRecord]) -> list[ItemResult]:
        self.apply_calls.append(len(records))
        refused = [r.resource_id for r in records if r.resource_id in self.refuse]
        if refused:
            raise GraphRefused(f"refused {refused}")
        results = []
        for record in records:
            key = (record.tenant, record.resource_type, record.resource_id)
            held = self.nodes.get(key)
            if held is not None and held.version > record.version:
                results.append(ItemResult(record, Outcome.STALE))
            else:
                self.nodes[key] = record
                results.append(ItemResult(record, Outcome.APPLIED))
        return results

    async def record_positions(self, positions: dict[int, int]) -> None:
        for p, n in positions.items():
            self.stored_positions[p] = max(n, self.stored_positions.get(p, 0))

    async def positions(self) -> dict[int, int]:
        return dict(self.stored_positions)

    def _live(self, tenant: str) -> list[GraphRecord]:
        return [r for (t, _, _), r in self.nodes.items() if t == tenant and not r.deleted]

    async def walk(self, tenant: str, path: GraphPath, limit: int) -> GraphHits:
        current = {(path.anchor_type, i) for i in path.anchor_ids}
        for hop in path.hops:
            reached: set[tuple[str, str]] = set()
            for r in self._live(tenant):
                for ref in r.references:
                    if ref.param not in hop.params:
                        continue
                    source, target = (
                        (r.resource_type, r.resource_id),
                        (ref.target_type, ref.target_id),
                    )
                    here, there = (source, target) if hop.along else (target, source)
                    if here in current and there[0] == hop.to_type:
                        reached.add(there)
            current = reached
        ids = sorted(i for _, i in current)
        return GraphHits(tuple(ids[:limit]), len(ids) <= limit)

    async def compartment(self, tenant: str, query: CompartmentQuery) -> CompartmentPage:
        keys = {
            ResourceKey(r.resource_type, r.resource_id)
            for r in self._live(tenant)
            for ref in r.references
            if ref.target_type == "Patient"
            and ref.target_id in query.patient_ids
            and f"{r.resource_type}|{ref.param}" in query.links
        }
        ordered = sorted(keys, key=lambda k: (k.resource_type, k.id))
        return CompartmentPage(tuple(ordered[: query.limit]), len(ordered) <= query.limit)

    async def versions(self, tenant: str, keys: list[ResourceKey]) -> list[IndexedVersion]:
        found = (self.nodes.get((tenant, k.resource_type, k.id)) for k in keys)
        return [
            IndexedVersion(r.resource_type, r.resource_id, r.version, r.deleted)
            for r in found
            if r is not None
        ]

    async def scan(
        self, tenant: str, after: ResourceKey | None, limit: int
    ) -> list[IndexedVersion]:
        start = ("", "") if after is None else (after.resource_type, after.id)
        held = sorted((k[1], k[2]) for k in self.nodes if k[0] == tenant and (k[1], k[2]) > start)
        return await self.versions(tenant, [ResourceKey(t, i) for t, i in held[:limit]])

    async def delete(self, tenant: str, keys: list[ResourceKey]) -> int:
        gone = [self.nodes.pop((tenant, k.resource_type, k.id), None) for k in keys]
        return sum(1 for g in gone if g is not None)

    async def delete_tenant(self, tenant: str) -> int:
        keys = [k for k in self.nodes if k[0] == tenant]
        for k in keys:
            del self.nodes[k]
        return len(keys)

    async def count(self, tenant: str) -> GraphCounts:
        held = [r for (t, _, _), r in self.nodes.items() if t == tenant]
        live = [r for r in held if not r.deleted]
        links = Counter(
            (r.resource_type, ref.param, ref.target_type) for r in live for ref in r.references
        )
        return GraphCounts(
            dict(Counter(r.resource_type for r in live)),
            len(held) - len(live),
            tuple(LinkCount(*shape, n) for shape, n in sorted(links.items())),
        )

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None
