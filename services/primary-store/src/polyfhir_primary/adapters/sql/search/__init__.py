"""SQL for searches: one module per kind of clause, one builder that nests them."""

from polyfhir_primary.adapters.sql.search.builder import RESOURCE_COLUMNS, search_statements

__all__ = ["RESOURCE_COLUMNS", "search_statements"]
