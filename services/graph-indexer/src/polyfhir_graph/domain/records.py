"""What the graph holds for one resource after one change event (pure).

A node per resource (tenant, type, id, version, deleted, last_updated) and one
edge per reference-typed search-parameter value of its current version: the
parameter's code on the edge, the typed target at the other end. The values
come from the registry's index extraction (``polyfhir_core.indexing``), the
same rows the primary stores for ``[param]=Type/id``, so a walk in the graph
and a join in the primary agree on what references what. Only local
references (``Type/id``) become edges: absolute URLs, canonicals and logical
(identifier-only) references point at nothing in the tenant's graph.

A delete keeps the node as a tombstone with its version and no edges, so that
an older version arriving later cannot resurrect the resource or its edges.
"""

from __future__ import annotations

from dataclasses import dataclass

from polyfhir_bus.events import ChangeKind, ResourceChanged
from polyfhir_bus.indexing.batch import IndexedResource
from polyfhir_core.indexing import extract_index_values
from polyfhir_core.registry import SearchParameterRegistry, SearchParamType
from polyfhir_core.resources import ResourceKey


@dataclass(frozen=True, slots=True, order=True)
class Reference:
    """One edge: the resource's ``param`` references ``target_type/target_id``."""

    param: str
    target_type: str
    target_id: str


@dataclass(frozen=True, slots=True)
class GraphRecord(IndexedResource):
    """The node (and its outgoing edges) one event leaves in the graph."""

    references: tuple[Reference, ...] = ()

    @property
    def record_id(self) -> str:
        return self.event_key

    @property
    def key(self) -> ResourceKey:
        return ResourceKey(self.resource_type, self.resource_id)


def reference_registry(registry: SearchParameterRegistry) -> SearchParameterRegistry:
    """Only the reference parameters: extracting nothing else keeps a batch cheap."""
    return SearchParameterRegistry(
        [d for d in registry.definitions() if d.type is SearchParamType.REFERENCE]
    )


def references_of(
    resource: dict[str, object], registry: SearchParameterRegistry
) -> tuple[Reference, ...]:
    """The resource's local references, one per (param, target), sorted."""
    values = extract_index_values(dict(resource), registry)
    found = {
        Reference(row.param, row.target_type, row.target_id)
        for row in values.references
        if row.url is None and row.target_type is not None and row.target_id is not None
    }
    return tuple(sorted(found))


def record_for(event: ResourceChanged, registry: SearchParameterRegistry) -> GraphRecord:
    """The record an event leaves in the graph (a tombstone without edges for a delete)."""
    deleted = event.kind is ChangeKind.DELETED or event.resource is None
    references = (
        () if deleted or event.resource is None else references_of(event.resource, registry)
    )
    return GraphRecord(
        tenant=event.tenant,
        resource_type=event.resource_type,
        resource_id=event.resource_id,
        version=event.version,
        last_updated=event.last_updated,
        deleted=deleted,
        references=references,
    )
