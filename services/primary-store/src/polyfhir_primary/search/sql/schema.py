"""Where the plan's parameter types and resource fields live in the SQL schema."""

from __future__ import annotations

from polyfhir_core.registry import SearchParamType

# The index table holding a parameter type's rows (``adapters/sql/index_rows.py`` writes them).
INDEX_TABLES: dict[SearchParamType, str] = {
    SearchParamType.TOKEN: "idx_token",
    SearchParamType.STRING: "idx_string",
    SearchParamType.DATE: "idx_date",
    SearchParamType.NUMBER: "idx_number",
    SearchParamType.QUANTITY: "idx_quantity",
    SearchParamType.REFERENCE: "idx_reference",
    SearchParamType.URI: "idx_uri",
}

# The column of a type's index rows that a ``_sort`` on such a parameter orders by.
SORT_COLUMNS: dict[SearchParamType, str] = {
    SearchParamType.STRING: "value",
    SearchParamType.DATE: "low",
    SearchParamType.TOKEN: "code",
    SearchParamType.NUMBER: "value",
    SearchParamType.QUANTITY: "value",
    SearchParamType.URI: "value",
    SearchParamType.REFERENCE: "target_id",
}

# The ``resources`` column of each resource field a search sorts by.
RESOURCE_FIELDS = {"_type": "res_type", "_id": "res_id", "_lastUpdated": "last_updated"}

RESOURCE_COLUMNS = "r.res_type, r.res_id, r.version, r.last_updated, r.deleted, r.content"
PAGE_COLUMNS = RESOURCE_COLUMNS.replace("r.", "p.")
