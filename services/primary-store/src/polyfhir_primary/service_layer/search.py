"""Compile a SearchQuery into a SearchPlan the SQL layer can run.

Covers what this store answers today: ``_id``, ``_lastUpdated``, and every
token and date parameter of the SearchParameter registry (``:not`` for
tokens). Parameters it cannot answer are returned as ``ignored`` so the
caller applies FHIR's ``handling`` rules (lenient ignores, strict rejects;
conditional interactions are always strict).
"""

from __future__ import annotations

from dataclasses import dataclass

from polyfhir_core.registry import SearchParameterRegistry, SearchParamType

from polyfhir_core.errors import BadRequest, NotSupported
from polyfhir_core.resources import check_id
from polyfhir_core.search import SearchParam, SearchQuery
from polyfhir_core.search.dates import require_date_range, split_prefix
from polyfhir_primary.domain.search_plan import (
    ANY,
    Clause,
    DateClause,
    IdClause,
    SearchPlan,
    SortField,
    TokenClause,
    TokenMatch,
)

_SORTABLE = {"_lastUpdated": "last_updated", "_id": "res_id"}
_DEFAULT_SORT = (SortField("last_updated"), SortField("res_type"), SortField("res_id"))


@dataclass(frozen=True, slots=True)
class Limits:
    default_count: int = 20
    max_count: int = 1000


@dataclass(frozen=True, slots=True)
class CompiledSearch:
    plan: SearchPlan
    applied: tuple[SearchParam, ...]
    ignored: tuple[SearchParam, ...]


def token_match(value: str) -> TokenMatch:
    if "|" not in value:
        return TokenMatch(ANY, value)
    system, _, code = value.partition("|")
    return TokenMatch(system or None, code or None)


def _dates(param: SearchParam) -> tuple[tuple[str, object], ...]:
    out = []
    for value in param.values:
        prefix, raw = split_prefix(value)
        out.append((prefix, require_date_range(raw, param.name)))
    return tuple(out)


def _clause(rtype: str | None, p: SearchParam, registry: SearchParameterRegistry) -> Clause | None:
    if any(v == "" for v in p.values):
        raise BadRequest(f"search parameter {p.raw_name} has an empty value")
    if p.name == "_id" and p.modifier in (None, "not"):
        return IdClause(tuple(check_id(v) for v in p.values), negate=p.modifier == "not")
    if p.name == "_lastUpdated" and p.modifier is None:
        return DateClause(None, _dates(p))  # type: ignore[arg-type]
    definition = registry.get(rtype, p.name) if rtype else None
    if definition is None:
        return None
    if definition.type == SearchParamType.TOKEN and p.modifier in (None, "not"):
        matches = tuple(token_match(v) for v in p.values)
        return TokenClause(p.name, matches, negate=p.modifier == "not")
    if definition.type == SearchParamType.DATE and p.modifier is None:
        return DateClause(p.name, _dates(p))  # type: ignore[arg-type]
    return None


def _sort(query: SearchQuery) -> tuple[SortField, ...]:
    fields = []
    for key in query.sort:
        column = _SORTABLE.get(key.name)
        if column is None:
            raise NotSupported(
                f"_sort by {key.name!r} is not supported yet (use _lastUpdated or _id)"
            )
        fields.append(SortField(column, key.descending))
    if not fields:
        return _DEFAULT_SORT
    return (*fields, SortField("res_type"), SortField("res_id"))


def compile_search(
    query: SearchQuery,
    registry: SearchParameterRegistry,
    limits: Limits,
    types: tuple[str, ...] | None = None,
) -> CompiledSearch:
    applied: list[SearchParam] = []
    ignored: list[SearchParam] = []
    clauses: list[Clause] = []
    for p in query.params:
        clause = _clause(query.resource_type, p, registry)
        if clause is None:
            ignored.append(p)
        else:
            clauses.append(clause)
            applied.append(p)
    count = limits.default_count if query.count is None else min(query.count, limits.max_count)
    resource_types = (query.resource_type,) if query.resource_type else types
    plan = SearchPlan(
        resource_types=resource_types,
        clauses=tuple(clauses),
        limit=count,
        offset=query.offset,
        sort=_sort(query),
        count_total=query.total != "none" or query.summary == "count",
    )
    return CompiledSearch(plan, tuple(applied), tuple(ignored))


def require_all_applied(compiled: CompiledSearch, what: str) -> None:
    if compiled.ignored:
        names = ", ".join(p.raw_name for p in compiled.ignored)
        raise NotSupported(f"{what}: search parameter(s) not supported: {names}")
