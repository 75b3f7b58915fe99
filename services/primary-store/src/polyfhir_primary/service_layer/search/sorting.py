"""``_sort``: by _lastUpdated, _id, or any single-valued-ish search parameter."""

from __future__ import annotations

from polyfhir_core.errors import BadRequest
from polyfhir_core.registry import SearchParameterRegistry, SearchParamType
from polyfhir_core.search import SearchQuery
from polyfhir_primary.domain.search_plan import DEFAULT_SORT, SortField

_COLUMNS = {"_lastUpdated": "last_updated", "_id": "res_id"}
_SORTABLE = {
    SearchParamType.STRING: ("idx_string", "value"),
    SearchParamType.DATE: ("idx_date", "low"),
    SearchParamType.TOKEN: ("idx_token", "code"),
    SearchParamType.NUMBER: ("idx_number", "value"),
    SearchParamType.QUANTITY: ("idx_quantity", "value"),
    SearchParamType.URI: ("idx_uri", "value"),
    SearchParamType.REFERENCE: ("idx_reference", "target_id"),
}


def sort_fields(query: SearchQuery, registry: SearchParameterRegistry) -> tuple[SortField, ...]:
    fields: list[SortField] = []
    for key in query.sort:
        if key.name in _COLUMNS:
            fields.append(SortField(_COLUMNS[key.name], key.descending))
            continue
        definition = registry.get(query.resource_type or "Resource", key.name)
        if definition is None or definition.type not in _SORTABLE:
            raise BadRequest(
                f"_sort: {key.name!r} is not a sortable search parameter of {query.resource_type}"
            )
        table, column = _SORTABLE[definition.type]
        rows = registry.rows(query.resource_type, key.name)  # its own, or others' (Storage)
        fields.append(SortField(column, key.descending, rows.param, table, rows.target_type))
    if not fields:
        return DEFAULT_SORT
    return (*fields, SortField("res_type"), SortField("res_id"))
