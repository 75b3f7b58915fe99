"""The search model: what a FHIR search asks for, independent of any engine."""

from polyfhir_core.search.query import (
    CONTROL_PARAMETERS,
    SearchParam,
    SearchQuery,
    SortKey,
    parse_search,
    split_unescaped,
    split_values,
    unescape,
)

__all__ = [
    "CONTROL_PARAMETERS",
    "SearchParam",
    "SearchQuery",
    "SortKey",
    "parse_search",
    "split_unescaped",
    "split_values",
    "unescape",
]
