"""The search model: what a FHIR search asks for, independent of any engine."""

from polyfhir_core.search.query import (
    CONTROL_PARAMETERS,
    IncludeSpec,
    SearchParam,
    SearchQuery,
    SortKey,
    parse_search,
    split_unescaped,
    split_values,
    unescape,
)
from polyfhir_core.search.strings import MAX_INDEXED_CHARS, normalize

__all__ = [
    "CONTROL_PARAMETERS",
    "MAX_INDEXED_CHARS",
    "IncludeSpec",
    "SearchParam",
    "SearchQuery",
    "SortKey",
    "normalize",
    "parse_search",
    "split_unescaped",
    "split_values",
    "unescape",
]
