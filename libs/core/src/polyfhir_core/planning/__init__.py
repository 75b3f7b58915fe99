"""Query planning: analyzer -> router -> plan, and the merger's pure id-set operations.

No I/O: the gateway's executor runs a :class:`QueryPlan`; the admin API shows it.
"""

from polyfhir_core.planning.analyzer import QueryAnalysis, QueryPart, analyze, classify
from polyfhir_core.planning.config_tables import ConfigTables
from polyfhir_core.planning.merger import (
    HitsPage,
    enriched_ids,
    hits_needed,
    intersection,
    primary_enriched,
    secondary_filtered,
    union,
)
from polyfhir_core.planning.plan import (
    BackendState,
    MergeStrategy,
    QueryPlan,
    RouteDecision,
    RouteReason,
)
from polyfhir_core.planning.router import (
    EXECUTABLE,
    NATURAL_ROLE,
    RoutingContext,
    plan_query,
)

__all__ = [
    "EXECUTABLE",
    "NATURAL_ROLE",
    "BackendState",
    "ConfigTables",
    "HitsPage",
    "MergeStrategy",
    "QueryAnalysis",
    "QueryPart",
    "QueryPlan",
    "RouteDecision",
    "RouteReason",
    "RoutingContext",
    "analyze",
    "classify",
    "enriched_ids",
    "hits_needed",
    "intersection",
    "plan_query",
    "primary_enriched",
    "secondary_filtered",
    "union",
]
