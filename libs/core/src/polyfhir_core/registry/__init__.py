"""SearchParameter registry (official R4 definitions plus each tenant's own)."""

from polyfhir_core.registry.definitions import (
    Component,
    SearchParamDef,
    SearchParamType,
    definition_from_json,
    split_union,
)
from polyfhir_core.registry.registry import (
    COLUMN_PARAMS,
    NON_INDEXED_PARAMS,
    SearchParameterRegistry,
    Storage,
)

__all__ = [
    "COLUMN_PARAMS",
    "NON_INDEXED_PARAMS",
    "Component",
    "SearchParamDef",
    "SearchParamType",
    "SearchParameterRegistry",
    "Storage",
    "definition_from_json",
    "split_union",
]
