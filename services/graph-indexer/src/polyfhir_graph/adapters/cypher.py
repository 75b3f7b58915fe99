"""The graph in openCypher, shared by the FalkorDB and Neo4j adapters.

Schema: ``(:Resource {tenant, type, id, version, deleted, last_updated})`` and
``(:Resource)-[:REF {param}]->(:Resource)``, indexed on (tenant, type, id);
``(:Position {graph, partition, position})`` for the applied positions. A
reference to a resource the graph has not seen yet creates a *placeholder*
node (version 0) that the edge can point at; placeholders are invisible to
``versions``/``scan``/``count`` and become real when their resource arrives.

Every statement carries the tenant on every node it matches, so a walk cannot
cross tenants even through a shared id. Writes are batched with ``UNWIND``.
A dialect adapter supplies only :meth:`CypherGraph.run` (and the schema
statements its engine wants).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from polyfhir_core.contracts.graph_index import CompartmentPage, GraphHits, LinkCount
from polyfhir_core.contracts.secondary import IndexedVersion
from polyfhir_core.resources import ResourceKey
from polyfhir_graph.adapters.statements import (
    APPLY_EDGES,
    APPLY_NODES,
    COMPARTMENT,
    COUNT_EDGES,
    COUNT_NODES,
    DELETE_TENANT,
    POSITIONS,
    PRUNE_PLACEHOLDERS,
    RECORD_POSITIONS,
    RESET_NODES,
    SCAN,
    VERSIONS,
    walk_statement,
)
from polyfhir_graph.domain.paths import GraphPath
from polyfhir_graph.domain.records import GraphRecord
from polyfhir_graph.service_layer.ports import CompartmentQuery, GraphCounts, ItemResult, Outcome

Rows = list[list[Any]]
DELETE_SLICE = 10_000  # nodes per statement when a tenant is deleted


def _epoch_ms(record: GraphRecord) -> int:
    return int(record.last_updated.timestamp() * 1000)


def _key(record: GraphRecord) -> tuple[str, str, str]:
    return (record.tenant, record.resource_type, record.resource_id)


def _node_rows(records: list[GraphRecord]) -> list[dict[str, Any]]:
    return [
        {
            "tenant": r.tenant,
            "type": r.resource_type,
            "id": r.resource_id,
            "version": r.version,
            "deleted": r.deleted,
            "last_updated": _epoch_ms(r),
        }
        for r in records
    ]


def _edge_rows(records: list[GraphRecord]) -> list[dict[str, Any]]:
    return [
        {
            "tenant": r.tenant,
            "type": r.resource_type,
            "id": r.resource_id,
            "version": r.version,
            "param": ref.param,
            "target_type": ref.target_type,
            "target_id": ref.target_id,
        }
        for r in records
        for ref in r.references
    ]


def _indexed(rows: Rows) -> list[IndexedVersion]:
    return [IndexedVersion(row[0], row[1], int(row[2]), bool(row[3])) for row in rows]


class CypherGraph(ABC):
    """:class:`polyfhir_graph.service_layer.ports.GraphStore` over any openCypher engine."""

    def __init__(self, graph: str) -> None:
        self.graph = graph

    @abstractmethod
    async def run(self, query: str, params: dict[str, Any]) -> Rows:
        """Run one statement; the rows of its result as lists."""

    @abstractmethod
    async def ensure_schema(self) -> None:
        """Create the indexes (idempotent)."""

    @abstractmethod
    async def ping(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    async def apply(self, records: list[GraphRecord]) -> list[ItemResult]:
        if not records:
            return []
        written = await self.run(APPLY_NODES, {"rows": _node_rows(records)})
        applied_ids = {(row[0], row[1], row[2]) for row in written}  # _key of each
        # by key, not `r in applied`: comparing whole records made a batch quadratic
        # (17 % of the indexer's CPU at 500 records a batch while loading 100k resources)
        results = [
            ItemResult(r, Outcome.APPLIED if _key(r) in applied_ids else Outcome.STALE)
            for r in records
        ]
        edges = _edge_rows([res.item for res in results if res.outcome is Outcome.APPLIED])
        if edges:
            await self.run(APPLY_EDGES, {"rows": edges})
        return results

    async def record_positions(self, positions: dict[int, int]) -> None:
        if positions:
            rows = [{"partition": p, "position": n} for p, n in positions.items()]
            await self.run(RECORD_POSITIONS, {"graph": self.graph, "rows": rows})

    async def positions(self) -> dict[int, int]:
        rows = await self.run(POSITIONS, {"graph": self.graph})
        return {int(row[0]): int(row[1]) for row in rows}

    async def walk(self, tenant: str, path: GraphPath, limit: int) -> GraphHits:
        query, params = walk_statement(path)
        rows = await self.run(query, {**params, "tenant": tenant, "limit": limit + 1})
        ids = tuple(str(row[0]) for row in rows)
        return GraphHits(ids[:limit], len(ids) <= limit)

    async def compartment(self, tenant: str, query: CompartmentQuery) -> CompartmentPage:
        after = query.after
        params: dict[str, Any] = {
            "tenant": tenant,
            "ids": list(query.patient_ids),
            "links": list(query.links),
            "with_patients": query.types is None or "Patient" in query.types,
            "since": None if query.since is None else int(query.since.timestamp() * 1000),
            "after_type": None if after is None else after.resource_type,
            "after_id": None if after is None else after.id,
        }
        rows = await self.run(COMPARTMENT, params)
        keys = sorted({ResourceKey(str(row[0]), str(row[1])) for row in rows}, key=_order)
        return CompartmentPage(tuple(keys[: query.limit]), len(keys) <= query.limit)

    async def versions(self, tenant: str, keys: list[ResourceKey]) -> list[IndexedVersion]:
        if not keys:
            return []
        rows = [{"type": k.resource_type, "id": k.id} for k in keys]
        return _indexed(await self.run(VERSIONS, {"tenant": tenant, "keys": rows}))

    async def scan(
        self, tenant: str, after: ResourceKey | None, limit: int
    ) -> list[IndexedVersion]:
        params: dict[str, Any] = {
            "tenant": tenant,
            "after_type": "" if after is None else after.resource_type,
            "after_id": "" if after is None else after.id,
            "limit": limit,
        }
        return _indexed(await self.run(SCAN, params))

    async def delete(self, tenant: str, keys: list[ResourceKey]) -> int:
        if not keys:
            return 0
        rows = [{"type": k.resource_type, "id": k.id} for k in keys]
        reset = await self.run(RESET_NODES, {"tenant": tenant, "keys": rows})
        await self.run(PRUNE_PLACEHOLDERS, {"tenant": tenant})
        return int(reset[0][0]) if reset else 0

    async def run_long(self, query: str, params: dict[str, Any]) -> Rows:
        """A statement over the whole tenant (counts, deletion): seconds at a million
        resources, so an engine whose client bounds each reply may bound it longer."""
        return await self.run(query, params)

    async def delete_tenant(self, tenant: str) -> int:
        nodes = await self.run_long(COUNT_NODES, {"tenant": tenant})
        removed = sum(int(n) for _, _, n in nodes)
        params: dict[str, Any] = {"tenant": tenant, "limit": DELETE_SLICE}
        while (deleted := await self.run_long(DELETE_TENANT, params)) and deleted[0][0]:
            pass
        return removed

    async def count(self, tenant: str) -> GraphCounts:
        live: dict[str, int] = {}
        tombstones = 0
        for rtype, deleted, n in await self.run_long(COUNT_NODES, {"tenant": tenant}):
            if deleted:
                tombstones += int(n)
            else:
                live[str(rtype)] = live.get(str(rtype), 0) + int(n)
        links = tuple(
            LinkCount(str(source), str(param), str(target), int(n))
            for source, param, target, n in await self.run_long(COUNT_EDGES, {"tenant": tenant})
        )
        return GraphCounts(live, tombstones, tuple(sorted(links, key=_link_order)))


def _link_order(link: LinkCount) -> tuple[str, str, str]:
    return link.source_type, link.param, link.target_type


def _order(key: ResourceKey) -> tuple[str, str]:
    return key.resource_type, key.id
