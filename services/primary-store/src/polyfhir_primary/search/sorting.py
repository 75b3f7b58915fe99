"""``_sort``: by _lastUpdated, _id, or any single-valued-ish search parameter."""

from __future__ import annotations

from polyfhir_core.errors import BadRequest
from polyfhir_core.registry import SearchParameterRegistry, SearchParamType
from polyfhir_core.search import SearchQuery
from polyfhir_primary.search.plan import DEFAULT_SORT, SortField

RESOURCE_SORTS = ("_lastUpdated", "_id")
SORTABLE = (
    SearchParamType.STRING,
    SearchParamType.DATE,
    SearchParamType.TOKEN,
    SearchParamType.NUMBER,
    SearchParamType.QUANTITY,
    SearchParamType.URI,
    SearchParamType.REFERENCE,
)


def sort_fields(query: SearchQuery, registry: SearchParameterRegistry) -> tuple[SortField, ...]:
    fields: list[SortField] = []
    for key in query.sort:
        if key.name in RESOURCE_SORTS:
            fields.append(SortField(key.name, key.descending))
            continue
        definition = registry.get(query.resource_type or "Resource", key.name)
        if definition is None or definition.type not in SORTABLE:
            raise BadRequest(
                f"_sort: {key.name!r} is not a sortable search parameter of {query.resource_type}"
            )
        rows = registry.rows(query.resource_type, key.name)  # its own, or others' (Storage)
        fields.append(
            SortField(key.name, key.descending, rows.param, definition.type, rows.target_type)
        )
    if not fields:
        return DEFAULT_SORT
    return (*fields, SortField("_type"), SortField("_id"))
