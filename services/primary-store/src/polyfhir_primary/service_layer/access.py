"""The caller's permissions applied to what the store reads and writes.

``TenantContext.permissions`` (the gateway's reading of the caller's SMART
scopes) is enforced here, where every path passes (docs/security.md):

- a search's own type needs ``search``; every type a chain or ``_has``
  traverses needs ``search`` too, else the whole search is refused (403):
  dropping the clause would change what the query means;
- resources added by ``_include``/``_revinclude`` need ``read`` (and, when
  confined, membership of the compartment); the others are left out of the
  page silently: the matches stay right, nothing out of scope is shown;
- a confined search (``patient/`` scope) gets the compartment as a clause
  before it is compiled (``Patient/123/Observation``); a search of another
  patient's compartment is refused, and so is a system-level search;
- a confined read/vread of a resource outside the compartment is 404 (its
  existence is not revealed); history and ``read_many`` drop such versions,
  and deletions (tombstones carry no references to place them);
- a confined write must leave the resource inside the compartment (and find
  it there): otherwise 403, and a transaction rolls back whole.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

from polyfhir_core.errors import Forbidden
from polyfhir_core.indexing.index_values import IndexValues
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_core.registry.compartments import compartment_params
from polyfhir_core.resources import Json, StoredResource
from polyfhir_core.search import SearchQuery
from polyfhir_core.tenancy import Operation, TenantPermissions
from polyfhir_primary.search.plan import Criteria, HasClause, ReferenceClause

Indexer = Callable[[Json], IndexValues]


def traversed_types(criteria: Criteria) -> set[str | None]:
    """Every type a chain or ``_has`` in ``criteria`` reads (None: any type)."""
    found: set[str | None] = set()
    for clause in criteria.clauses:
        nested: Criteria | None = None
        if isinstance(clause, ReferenceClause) and clause.chain is not None:
            nested = clause.chain
            found.update(nested.resource_types or clause.target_types or (None,))
        elif isinstance(clause, HasClause):
            nested = clause.criteria
            found.add(clause.source_type)
        if nested is not None:
            found |= traversed_types(nested)
    return found


def require_searchable(
    permissions: TenantPermissions, types: Iterable[str | None], traversed: Iterable[str | None]
) -> None:
    """Refuse (403) a search whose own types or traversed types are out of scope."""
    for rtype in types:
        permissions.require(Operation.SEARCH, rtype)
    for rtype in traversed:
        if not permissions.allows(Operation.SEARCH, rtype):
            what = rtype or "any type"
            raise Forbidden(f"a chain or _has into {what} is not permitted for this caller")


def confine_search(permissions: TenantPermissions, query: SearchQuery) -> SearchQuery:
    """``query`` limited to the caller's compartment, when its type is confined."""
    if query.resource_type is None:
        if permissions.compartment is not None or _any_confined(permissions):
            raise Forbidden("a patient-confined caller searches one resource type at a time")
        return query
    compartment = permissions.confinement(Operation.SEARCH, query.resource_type)
    if compartment is None:
        return query
    ctype, cid = compartment.split("/", 1)
    if query.compartment is None:
        return replace(query, compartment=(ctype, cid))
    if query.compartment != (ctype, cid):
        raise Forbidden(f"this caller may search the {compartment} compartment only")
    return query


def _any_confined(permissions: TenantPermissions) -> bool:
    return any(g.compartment is not None for g in permissions.grants or ())


def in_compartment(
    compartment: str, stored: StoredResource, registry: SearchParameterRegistry, index: Indexer
) -> bool:
    """True when ``stored`` (a version with content) is in ``compartment`` (``Patient/1``)."""
    ctype, cid = compartment.split("/", 1)
    rtype = stored.resource_type
    if rtype == ctype and stored.id == cid:
        return True
    if stored.content is None:
        return False
    params = compartment_params(ctype, rtype) or ()
    rows: set[str] = set()
    for code in params:
        storage = registry.rows(rtype, code)
        if storage.target_type in (None, ctype):
            rows.update(storage.params)
    return any(
        ref.param in rows and ref.target_type == ctype and ref.target_id == cid
        for ref in index(stored.content).references
    )


def visible(
    permissions: TenantPermissions,
    operation: Operation,
    stored: StoredResource,
    registry: SearchParameterRegistry,
    index: Indexer,
) -> bool:
    """May the caller see ``stored`` through ``operation`` (type and compartment)?"""
    if not permissions.allows(operation, stored.resource_type):
        return False
    compartment = permissions.confinement(operation, stored.resource_type)
    if compartment is None:
        return True
    return in_compartment(compartment, stored, registry, index)


def only_visible(
    permissions: TenantPermissions,
    operation: Operation,
    found: Sequence[StoredResource],
    registry: SearchParameterRegistry,
    index: Indexer,
) -> list[StoredResource]:
    return [s for s in found if visible(permissions, operation, s, registry, index)]


def require_write_inside(
    permissions: TenantPermissions,
    operation: Operation,
    stored: StoredResource | None,
    registry: SearchParameterRegistry,
    index: Indexer,
) -> None:
    """Refuse (403) a confined write whose resource (before or after) is outside."""
    if stored is None or stored.content is None:
        return
    compartment = permissions.confinement(operation, stored.resource_type)
    if compartment is not None and not in_compartment(compartment, stored, registry, index):
        raise Forbidden(
            f"{operation.value} of {stored.resource_type}/{stored.id} outside {compartment} "
            "is not permitted for this caller"
        )
