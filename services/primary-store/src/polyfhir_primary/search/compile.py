"""SearchQuery -> SearchPlan, against the SearchParameter registry.

Parameters the store cannot answer come back as ``ignored``; the caller applies
``Prefer: handling`` (lenient ignores, strict rejects; conditional
interactions are always strict).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from polyfhir_core.errors import BadRequest, NotFound, NotSupported
from polyfhir_core.indexing.composite_params import component_param, component_rows, component_types
from polyfhir_core.registry import SearchParamDef, SearchParameterRegistry, SearchParamType, Storage
from polyfhir_core.registry.compartments import compartment_params, compartment_types
from polyfhir_core.resource_validation import is_resource_type
from polyfhir_core.resources import check_id
from polyfhir_core.search import IncludeSpec, SearchParam, SearchQuery, split_values
from polyfhir_core.search.capabilities import SUPPORTED_MODIFIERS
from polyfhir_core.search.query import TotalMode
from polyfhir_primary.search import value_clauses as values
from polyfhir_primary.search.chains import chain_clause, has_clause, restricted_rows
from polyfhir_primary.search.plan import (
    Clause,
    CompartmentClause,
    CompositeClause,
    IdClause,
    MissingClause,
    ReferenceClause,
    SearchPlan,
)
from polyfhir_primary.search.sorting import sort_fields

# Parameter types with index rows of their own (``:missing`` reads them).
_INDEXED = frozenset(
    {
        SearchParamType.TOKEN,
        SearchParamType.STRING,
        SearchParamType.DATE,
        SearchParamType.NUMBER,
        SearchParamType.QUANTITY,
        SearchParamType.REFERENCE,
        SearchParamType.URI,
    }
)


@dataclass(frozen=True, slots=True)
class Limits:
    default_count: int = 20
    max_count: int = 1000
    max_chain_depth: int = 4
    # Bundle.total when the search sends no _total (the server's choice, search.html)
    default_total: TotalMode = "accurate"


@dataclass(frozen=True, slots=True)
class CompiledSearch:
    plan: SearchPlan
    applied: tuple[SearchParam, ...]
    ignored: tuple[SearchParam, ...]


class _Compiler:
    def __init__(
        self, registry: SearchParameterRegistry, limits: Limits, base_url: str | None
    ) -> None:
        self.registry, self.limits, self.base_url = registry, limits, base_url

    def definition(self, rtype: str | None, code: str) -> SearchParamDef | None:
        return self.registry.get(rtype or "Resource", code)

    def clause(self, rtype: str | None, p: SearchParam, depth: int = 0) -> Clause | None:
        if depth > self.limits.max_chain_depth:
            raise BadRequest(
                f"{p.raw_name}: chains are limited to {self.limits.max_chain_depth} levels"
            )
        if any(v == "" for v in p.values):
            raise BadRequest(f"search parameter {p.raw_name} has an empty value")
        if p.name == "_has":
            return has_clause(self, rtype, p, depth)
        if "." in p.raw_name:
            return chain_clause(self, rtype, p, depth)
        if p.name == "_id" and p.modifier in (None, "not"):
            return IdClause(tuple(check_id(v) for v in p.values), negate=p.modifier == "not")
        if p.name == "_lastUpdated" and p.modifier is None:
            return values.date_clause(p, None)
        if p.name in ("_text", "_content") and p.modifier in (None, "text-advanced"):
            return values.fulltext_clause(p)
        definition = self.definition(rtype, p.name)
        if definition is None:
            return None
        if definition.type == SearchParamType.COMPOSITE:
            return self.composite(rtype, definition, p)
        if definition.type not in SUPPORTED_MODIFIERS:
            return None  # composite and special parameters: not answered by the primary
        rows = self.registry.rows(rtype, definition.code)
        if p.modifier == "missing":
            return self.missing(definition.type, p, rows)
        if definition.type == SearchParamType.REFERENCE:
            return self.reference(p, rows)
        if p.modifier is not None and p.modifier not in SUPPORTED_MODIFIERS[definition.type]:
            return None
        if p.modifier == "of-type":
            return values.of_type_clause(p)
        return replace(_SIMPLE[definition.type](p), param=rows.param)

    def composite(
        self, rtype: str | None, definition: SearchParamDef, p: SearchParam
    ) -> Clause | None:
        types = component_types(definition, self.registry)
        if types is None or p.modifier is not None:
            return None
        shared = component_rows(definition, rtype, self.registry) if rtype else None
        params = [
            (shared[n] if shared else None) or component_param(p.name, n) for n in range(len(types))
        ]
        alternatives = []
        for value in p.values:
            parts = split_values(value, "$")
            if len(parts) != len(types):
                raise BadRequest(
                    f"{p.raw_name}={value}: expected {len(types)} components separated by $"
                )
            alternatives.append(
                tuple(
                    _SIMPLE[kind](SearchParam(params[n], (part,), None))
                    for n, (kind, part) in enumerate(zip(types, parts, strict=True))
                )
            )
        root = shared is not None
        return CompositeClause(p.name, tuple(types), tuple(alternatives), root)  # type: ignore[arg-type]

    def missing(self, kind: SearchParamType, p: SearchParam, rows: Storage) -> Clause | None:
        if kind not in _INDEXED:
            return None
        if len(p.values) != 1 or p.values[0] not in ("true", "false"):
            raise BadRequest(f"{p.raw_name} takes true or false")
        return MissingClause(kind, rows.param, p.values[0] == "true", rows.target_type)

    def reference(self, p: SearchParam, rows: Storage) -> Clause | None:
        if p.modifier == "identifier":
            return values.identifier_clause(p)  # its own rows, even when restricted
        type_modifier = p.modifier if p.modifier and is_resource_type(p.modifier) else None
        if p.modifier is not None and type_modifier is None:
            return None
        param, restricted = restricted_rows(p, rows, type_modifier)
        matches = tuple(values.reference_match(v, type_modifier, self.base_url) for v in p.values)
        targets = (type_modifier,) if type_modifier else restricted
        return ReferenceClause(param, matches, targets)


_SIMPLE = {
    SearchParamType.TOKEN: values.token_clause,
    SearchParamType.STRING: values.string_clause,
    SearchParamType.DATE: lambda p: values.date_clause(p, p.name),
    SearchParamType.NUMBER: values.number_clause,
    SearchParamType.QUANTITY: values.quantity_clause,
    SearchParamType.URI: values.uri_clause,
}


def _compartment(query: SearchQuery, registry: SearchParameterRegistry) -> CompartmentClause:
    assert query.compartment is not None
    ctype, cid = query.compartment
    rtype = query.resource_type or ""
    params = compartment_params(ctype, rtype)
    if params is None:
        if ctype not in compartment_types():
            raise NotFound(f"{ctype} is not a compartment (known: {sorted(compartment_types())})")
        raise BadRequest(f"{rtype} resources are not in the {ctype} compartment")
    read: list[str] = []  # the parameters whose rows say it (``Storage``)
    for code in params:
        rows = registry.rows(rtype, code)
        if rows.target_type in (None, ctype):  # the compartment fixes the target type
            read += rows.params
    unique = tuple(dict.fromkeys(read))
    return CompartmentClause(unique, ctype, check_id(cid), include_self=rtype == ctype)


def _types(query: SearchQuery, params: list[SearchParam]) -> tuple[str, ...] | None:
    if query.resource_type:
        return (query.resource_type,)
    named = [v for p in params if p.name == "_type" for v in p.values]
    for name in named:
        if not is_resource_type(name):
            raise BadRequest(f"_type: unknown resource type {name!r}")
    return tuple(named) or None


def compile_search(
    query: SearchQuery,
    registry: SearchParameterRegistry,
    limits: Limits,
    base_url: str | None = None,
) -> CompiledSearch:
    compiler = _Compiler(registry, limits, base_url)
    params = list(query.params)
    applied: list[SearchParam] = [
        p for p in params if p.name == "_type" and not query.resource_type
    ]
    ignored: list[SearchParam] = []
    clauses: list[Clause] = []
    if query.compartment is not None:
        clauses.append(_compartment(query, registry))
    for p in params:
        if p.name == "_type" and not query.resource_type:
            continue
        clause = compiler.clause(query.resource_type, p)
        (ignored if clause is None else applied).append(p)
        if clause is not None:
            clauses.append(clause)
    count = limits.default_count if query.count is None else min(query.count, limits.max_count)
    total = query.total or limits.default_total
    plan = SearchPlan(
        resource_types=_types(query, params),
        clauses=tuple(clauses),
        limit=count,
        offset=query.offset,
        sort=sort_fields(query, registry),
        count_total=total != "none" or query.summary == "count",
        estimate_total=total == "estimate" and query.summary != "count",
    )
    return CompiledSearch(plan, tuple(applied), tuple(ignored))


def require_all_applied(compiled: CompiledSearch, what: str) -> None:
    if compiled.ignored:
        names = ", ".join(p.raw_name for p in compiled.ignored)
        raise NotSupported(f"{what}: search parameter(s) not supported: {names}")


def stored_includes(
    specs: Sequence[IncludeSpec], registry: SearchParameterRegistry
) -> list[IncludeSpec]:
    """``_include``/``_revinclude`` on the rows they read (``Storage``):
    ``Observation:patient`` follows ``subject``'s references to Patients."""
    out: list[IncludeSpec] = []
    for spec in specs:
        if spec.param == "*":
            out.append(spec)
            continue
        rows = registry.rows(spec.source_type, spec.param)
        target = spec.target_type
        if rows.target_type is not None:
            if target not in (None, rows.target_type):
                continue  # the parameter never references that type
            target = rows.target_type
        out += [
            IncludeSpec(spec.source_type, param, target, spec.reverse, spec.iterate)
            for param in rows.params
        ]
    return out
