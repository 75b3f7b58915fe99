"""Chained search (``subject:Patient.name=x``) and reverse chains (``_has``), compiled.

A chain is a :class:`ReferenceClause` whose ``chain`` holds the criteria its
target must meet; ``_has`` is a :class:`HasClause` with the criteria of the
referring resource. Both nest: the inner parameter is compiled by the same
compiler, one level deeper (``Limits.max_chain_depth``). Their SQL is in
``sql/chains.py``.
"""

from __future__ import annotations

from typing import Protocol

from polyfhir_core.errors import BadRequest
from polyfhir_core.registry import SearchParameterRegistry, SearchParamType, Storage
from polyfhir_core.resource_validation import is_resource_type
from polyfhir_core.search import SearchParam
from polyfhir_primary.search.plan import Clause, Criteria, HasClause, ReferenceClause


class ClauseCompiler(Protocol):
    registry: SearchParameterRegistry

    def clause(self, rtype: str | None, p: SearchParam, depth: int = 0) -> Clause | None: ...


def chain_clause(
    compiler: ClauseCompiler, rtype: str | None, p: SearchParam, depth: int
) -> Clause | None:
    """``ref[:Type].param=v``: ``ref`` references a resource (of one of the targets
    that know ``param``) that matches ``param=v``; None when no target can."""
    registry = compiler.registry
    head, _, rest = p.raw_name.partition(".")
    ref_code, _, type_modifier = head.partition(":")
    definition = registry.get(rtype or "Resource", ref_code)
    if definition is None or definition.type != SearchParamType.REFERENCE:
        return None
    rows = registry.rows(rtype, ref_code)
    ref_code, restricted = restricted_rows(p, rows, type_modifier or None)
    targets = (type_modifier,) if type_modifier else restricted or tuple(definition.targets)
    inner_name, _, inner_modifier = rest.partition(":")
    inner = SearchParam(inner_name, p.values, inner_modifier or None)
    first = inner_name.split(".")[0]
    usable = tuple(t for t in targets if first.startswith("_") or registry.get(t, first))
    if not usable:
        return None
    clause = compiler.clause(usable[0], inner, depth + 1)
    if clause is None:
        return None
    return ReferenceClause(ref_code, (), usable, Criteria(usable, (clause,)))


def has_clause(
    compiler: ClauseCompiler, rtype: str | None, p: SearchParam, depth: int
) -> Clause | None:
    """``_has:Source:ref:param=v``: some ``Source`` whose ``ref`` references this
    resource matches ``param=v`` (which may be another ``_has``)."""
    parts = (p.modifier or "").split(":", 2)
    if len(parts) != 3 or not is_resource_type(parts[0]):
        raise BadRequest(f"{p.raw_name}: expected _has:Type:reference-param:param")
    source, ref_code, rest = parts
    definition = compiler.registry.get(source, ref_code)
    if definition is None or definition.type != SearchParamType.REFERENCE:
        raise BadRequest(f"{p.raw_name}: {source}.{ref_code} is not a reference parameter")
    name, _, modifier = (
        rest.partition(":") if not rest.startswith("_has:") else ("_has", "", rest[5:])
    )
    inner = compiler.clause(source, SearchParam(name, p.values, modifier or None), depth + 1)
    if inner is None:
        return None
    rows = compiler.registry.rows(source, ref_code)  # a reference: never a union
    return HasClause(source, rows.params[0], Criteria((source,), (inner,)), rows.target_type)


def restricted_rows(
    p: SearchParam, rows: Storage, type_modifier: str | None
) -> tuple[str, tuple[str, ...]]:
    """The reference parameter whose rows ``p`` reads, and the target types they must
    have: ``patient`` reads ``subject``'s rows that reference a Patient."""
    if rows.target_type is None:
        return rows.params[0], ()  # a reference is never a union: its own rows
    if type_modifier is not None and type_modifier != rows.target_type:
        raise BadRequest(f"{p.raw_name}: the parameter references {rows.target_type} only")
    return rows.params[0], (rows.target_type,)
