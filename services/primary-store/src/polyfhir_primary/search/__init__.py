"""Compile FHIR searches into SearchPlans the SQL layer runs (search.html semantics)."""

from polyfhir_primary.search.compile import (
    CompiledSearch,
    Limits,
    compile_search,
    require_all_applied,
    stored_includes,
)

__all__ = [
    "CompiledSearch",
    "Limits",
    "compile_search",
    "require_all_applied",
    "stored_includes",
]
