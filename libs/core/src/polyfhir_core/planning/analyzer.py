"""Split a search into query parts by feature, and score how hard it is.

The analyzer only reads the query and the SearchParameter registry (for the
type of a parameter: ``:text`` means full text on a token or string parameter,
``:below`` means terminology on a token but a URL prefix on a uri). One part per
feature: every parameter of that feature, in query order. The full-text part is
also translated into the clauses a search secondary understands
(:class:`polyfhir_core.contracts.search_index.TextClause`).
"""

from __future__ import annotations

from dataclasses import dataclass

from polyfhir_core.config.routing import QueryFeature
from polyfhir_core.contracts.search_index import TextClause, TextField
from polyfhir_core.registry import SearchParameterRegistry, SearchParamType
from polyfhir_core.search import IncludeSpec, SearchParam, SearchQuery, SortKey, unescape

TEXT_MODIFIERS = frozenset({"text", "text-advanced"})
TERMINOLOGY_MODIFIERS = frozenset({"above", "below", "in", "not-in"})
_TEXT_PARAMS = {"_text": TextField.NARRATIVE, "_content": TextField.CONTENT}
_TEXT_FIELDS = {
    SearchParamType.TOKEN: TextField.TOKEN_TEXT,
    SearchParamType.STRING: TextField.STRING,
}

# What one occurrence of each feature adds to the complexity score.
COMPLEXITY_WEIGHTS: dict[QueryFeature, int] = {
    QueryFeature.BASIC: 1,
    QueryFeature.CHAIN: 3,
    QueryFeature.HAS: 4,
    QueryFeature.FULL_TEXT: 3,
    QueryFeature.TERMINOLOGY: 2,
    QueryFeature.INCLUDE: 2,
    QueryFeature.INCLUDE_ITERATE: 4,
    QueryFeature.SORT: 1,
}


@dataclass(frozen=True, slots=True)
class QueryPart:
    """Everything of one feature in a search: its parameters, includes or sort keys."""

    feature: QueryFeature
    params: tuple[SearchParam, ...] = ()
    includes: tuple[IncludeSpec, ...] = ()
    sort: tuple[SortKey, ...] = ()

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """The names a routing rule's ``match.parameters`` is compared with."""
        names = [p.name for p in self.params]
        names += [i.param for i in self.includes]
        names += [s.name for s in self.sort]
        return tuple(dict.fromkeys(names))

    def describe(self) -> list[str]:
        """The part as it appears in a query string (for explain)."""
        out = [f"{p.raw_name}={','.join(p.values)}" for p in self.params]
        for inc in self.includes:
            key = ("_revinclude" if inc.reverse else "_include") + (
                ":iterate" if inc.iterate else ""
            )
            out.append(f"{key}={inc.text}")
        if self.sort:
            out.append(
                "_sort=" + ",".join(("-" if s.descending else "") + s.name for s in self.sort)
            )
        return out


@dataclass(frozen=True, slots=True)
class QueryAnalysis:
    """A search split by feature.

    ``text_clauses`` is the full-text part as a search secondary asks it (empty
    when there is none). ``resource_types``: the searched types (``None``: every
    type). ``text_only``: the search backend can answer the whole query (only
    full text, no other filter, sort, include or compartment).
    """

    query: SearchQuery
    parts: tuple[QueryPart, ...]
    complexity: int
    text_clauses: tuple[TextClause, ...]
    resource_types: tuple[str, ...] | None

    @property
    def features(self) -> tuple[QueryFeature, ...]:
        return tuple(p.feature for p in self.parts)

    def part(self, feature: QueryFeature) -> QueryPart | None:
        return next((p for p in self.parts if p.feature is feature), None)

    @property
    def text_only(self) -> bool:
        return self.features == (QueryFeature.FULL_TEXT,) and self.query.compartment is None

    @property
    def id_restriction(self) -> tuple[str, ...] | None:
        """The ids an ``_id`` parameter allows (ANDed occurrences intersected), if any."""
        allowed: list[str] | None = None
        for p in self.query.params:
            if p.name == "_id" and p.modifier is None:
                values = [unescape(v) for v in p.values]
                allowed = values if allowed is None else [v for v in allowed if v in values]
        return None if allowed is None else tuple(dict.fromkeys(allowed))


def classify(
    param: SearchParam, resource_type: str | None, registry: SearchParameterRegistry
) -> QueryFeature:
    """The feature one parameter occurrence belongs to."""
    if param.name == "_has":
        return QueryFeature.HAS
    if "." in param.raw_name:
        return QueryFeature.CHAIN
    if param.name in _TEXT_PARAMS and param.modifier in (None, "text-advanced"):
        return QueryFeature.FULL_TEXT
    if param.modifier in TEXT_MODIFIERS or param.modifier in TERMINOLOGY_MODIFIERS:
        kind = _param_type(param, resource_type, registry)
        if param.modifier in TEXT_MODIFIERS and kind in _TEXT_FIELDS:
            return QueryFeature.FULL_TEXT
        if param.modifier in TERMINOLOGY_MODIFIERS and kind is SearchParamType.TOKEN:
            return QueryFeature.TERMINOLOGY
    return QueryFeature.BASIC


def text_clause(
    param: SearchParam, resource_type: str | None, registry: SearchParameterRegistry
) -> TextClause:
    """The search-secondary form of a full-text parameter (see :func:`classify`)."""
    values = tuple(unescape(v) for v in param.values)
    if param.name in _TEXT_PARAMS and param.modifier in (None, "text-advanced"):
        return TextClause(_TEXT_PARAMS[param.name], values)
    kind = _param_type(param, resource_type, registry)
    return TextClause(_TEXT_FIELDS[kind], values, param.name)  # type: ignore[index]


def analyze(query: SearchQuery, registry: SearchParameterRegistry | None = None) -> QueryAnalysis:
    """Split ``query`` into parts by feature (see the module docstring)."""
    registry = registry or SearchParameterRegistry.default()
    rtype = query.resource_type
    grouped: dict[QueryFeature, list[SearchParam]] = {}
    clauses: list[TextClause] = []
    for p in query.params:
        if p.name == "_type" and rtype is None:
            continue  # a type restriction of a system search, not a filter
        feature = classify(p, rtype, registry)
        grouped.setdefault(feature, []).append(p)
        if feature is QueryFeature.FULL_TEXT:
            clauses.append(text_clause(p, rtype, registry))
    parts = [QueryPart(f, tuple(ps)) for f, ps in grouped.items()]
    if query.compartment is not None and QueryFeature.BASIC not in grouped:
        parts.append(QueryPart(QueryFeature.BASIC))
    for feature, iterate in ((QueryFeature.INCLUDE, False), (QueryFeature.INCLUDE_ITERATE, True)):
        includes = tuple(i for i in query.includes if i.iterate is iterate)
        if includes:
            parts.append(QueryPart(feature, includes=includes))
    if query.sort:
        parts.append(QueryPart(QueryFeature.SORT, sort=query.sort))
    order = list(QueryFeature)
    parts.sort(key=lambda part: order.index(part.feature))
    return QueryAnalysis(
        query, tuple(parts), _complexity(query, parts), tuple(clauses), _resource_types(query)
    )


def _param_type(
    param: SearchParam, resource_type: str | None, registry: SearchParameterRegistry
) -> SearchParamType | None:
    definition = registry.get(resource_type or "Resource", param.name)
    return definition.type if definition is not None else None


def _complexity(query: SearchQuery, parts: list[QueryPart]) -> int:
    score = 0
    for part in parts:
        weight = COMPLEXITY_WEIGHTS[part.feature]
        for p in part.params:
            depth = p.raw_name.count(".") + p.raw_name.count("_has:")
            score += weight * max(depth, 1) + len(p.values) - 1
        score += weight * (len(part.includes) + (1 if part.sort else 0))
    return score + (1 if query.compartment is not None else 0)


def _resource_types(query: SearchQuery) -> tuple[str, ...] | None:
    if query.resource_type:
        return (query.resource_type,)
    named = [unescape(v) for p in query.params if p.name == "_type" for v in p.values]
    return tuple(dict.fromkeys(named)) or None
