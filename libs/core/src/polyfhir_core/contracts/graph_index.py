"""The contract between the gateway and the graph secondary (the graph-indexer service).

The graph-indexer keeps the tenant's reference graph (FalkorDB locally, Neo4j in
production) fed by change events: one node per resource (tenant, type, id,
version) and one edge per reference-typed search-parameter value, the
parameter's code on the edge. The gateway holds a :class:`GraphIndex`, in
practice a client proxy derived from the Protocol (:data:`GRAPH_INDEX`, served
at ``POST /internal/v1/graph-index/{call}``).

The graph answers only the *walk* of a query: the terminal filter of a chain
(or the innermost filter of a ``_has``) is evaluated by the primary, which
yields anchor ids; the graph walks the references from them to the searched
type; the primary then applies every other clause, sort and paging on the
candidate ids. A walk never leaves the tenant of ``ctx``.

Freshness is expressed in positions exactly as for the search index
(``polyfhir_core.contracts.search_index``): the same ``positions`` /
``wait_positions`` / ``wait_applied`` calls, and the reconciler's
``versions`` / ``scan`` / ``remove`` / ``drop_tenant``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from polyfhir_core.contracts.contract import Contract
from polyfhir_core.contracts.secondary import IndexedSecondary
from polyfhir_core.resources import ResourceKey
from polyfhir_core.tenancy import TenantContext


@dataclass(frozen=True, slots=True)
class ChainStep:
    """One link of a chain, from the searched side: ``param`` references ``target_type``.

    ``Observation?subject:Patient.organization.name=x`` has the steps
    ``(subject, Patient)`` and ``(organization, Organization)``.
    """

    param: str
    target_type: str


@dataclass(frozen=True, slots=True)
class ChainWalk:
    """Ids of ``resource_type`` reaching one of ``target_ids`` through every step in turn.

    ``target_ids`` are resources of the last step's ``target_type`` (the ones the
    terminal filter matched). ``limit``: at most this many ids come back.
    """

    resource_type: str
    steps: tuple[ChainStep, ...]
    target_ids: tuple[str, ...]
    limit: int = 1000


@dataclass(frozen=True, slots=True)
class HasStep:
    """One ``_has:<source_type>:<param>`` link: ``source_type`` references the previous type."""

    source_type: str
    param: str


@dataclass(frozen=True, slots=True)
class HasWalk:
    """Ids of ``resource_type`` referenced, through every step in turn, by ``source_ids``.

    ``Patient?_has:Observation:patient:_has:AuditEvent:entity:agent=x`` has the
    steps ``(Observation, patient)`` and ``(AuditEvent, entity)``; ``source_ids``
    are the AuditEvents the innermost filter matched.
    """

    resource_type: str
    steps: tuple[HasStep, ...]
    source_ids: tuple[str, ...]
    limit: int = 1000


@dataclass(frozen=True, slots=True)
class GraphHits:
    """Candidate ids (sorted), and whether they are all of them (``False``: cut at the limit)."""

    ids: tuple[str, ...]
    complete: bool


@dataclass(frozen=True, slots=True)
class CompartmentRequest:
    """Resources of the compartment of ``patient_ids`` (the patients themselves included).

    ``types``: only these types (``None``: every type of the compartment);
    ``since``: only versions written at or after it; a page of ``limit`` keys in
    (type, id) order after ``after``.
    """

    patient_ids: tuple[str, ...]
    types: tuple[str, ...] | None = None
    since: datetime | None = None
    after: ResourceKey | None = None
    limit: int = 1000


@dataclass(frozen=True, slots=True)
class CompartmentPage:
    keys: tuple[ResourceKey, ...]
    complete: bool  # no key after the last one


@dataclass(frozen=True, slots=True)
class LinkCount:
    """How many references live ``source_type`` resources make through ``param`` to
    ``target_type`` resources (one row of the graph's shape, for the cost model)."""

    source_type: str
    param: str
    target_type: str
    count: int


@dataclass(frozen=True, slots=True)
class GraphStats:
    """How much the graph holds for a tenant and how far it has applied the stream.

    ``types`` counts live resources per type and ``links`` the references per
    (source type, parameter, target type): with them the router prices each step of
    a walk by its own fan-out instead of the tenant's average."""

    resources: int
    tombstones: int
    references: int
    positions: dict[int, int] = field(default_factory=dict)
    types: dict[str, int] = field(default_factory=dict)
    links: tuple[LinkCount, ...] = ()


@runtime_checkable
class GraphIndex(IndexedSecondary, Protocol):
    """Everything the gateway may ask of the graph secondary."""

    async def chain_sources(self, ctx: TenantContext, walk: ChainWalk) -> GraphHits:
        """Live resources of the searched type reaching the targets (reverse reference walk)."""

    async def has_targets(self, ctx: TenantContext, walk: HasWalk) -> GraphHits:
        """Resources of the searched type referenced by the sources (``_has``, nested)."""

    async def compartment(self, ctx: TenantContext, request: CompartmentRequest) -> CompartmentPage:
        """Keys of the patients' compartment (``$everything``)."""

    async def stats(self, ctx: TenantContext, max_age_s: float = 0.0) -> GraphStats:
        """The tenant's counts, at most ``max_age_s`` seconds old (0: counted now; the
        positions are always current). Counting walks every node and edge of the
        tenant, seconds at a million resources: the router asks for a shape a few
        minutes old, and a count it stopped waiting for still completes for the next."""


GRAPH_INDEX = Contract[GraphIndex](GraphIndex, "/internal/v1/graph-index", "graph index")
"""The graph-index contract as remote calls (served by the graph-indexer service)."""
