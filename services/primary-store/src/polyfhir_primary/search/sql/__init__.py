"""A SearchPlan as SQL: one module per kind of clause, a builder that nests them, and
the statements of a search split by purpose (page, totals, walk)."""

from polyfhir_primary.search.sql.schema import RESOURCE_COLUMNS
from polyfhir_primary.search.sql.statements import SearchStatements, Small, search_statements
from polyfhir_primary.search.sql.totals import ESTIMATE_CAP, estimate_beyond_cap

__all__ = [
    "ESTIMATE_CAP",
    "RESOURCE_COLUMNS",
    "SearchStatements",
    "Small",
    "estimate_beyond_cap",
    "search_statements",
]
