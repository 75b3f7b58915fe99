"""Choose a backend for every query part, and a merge strategy for the search.

Inputs: the composite configuration (routing rules, capabilities, failover
standbys, fallbacks, cost), a snapshot of the secondaries' states (health
monitor), what the gateway can execute, and optionally estimated candidate
counts per feature and a graph's fan-out (the cost model). Pure: no I/O.

Order of reasoning for one part:

1. Routing rules matching the part (highest priority first). A rule whose
   target is disabled, unknown or lacks the capability is skipped; a usable
   rule decides (the operator's choice), the cost is shown.
2. Without a usable rule, the candidates are the primary and every enabled
   secondary of the feature's natural role (full text -> search,
   chain/_has/_include:iterate -> graph, terminology -> terminology) with the
   capability. Other features (basic, include, sort) are the primary's.
3. A secondary the gateway cannot query for that feature is no candidate
   (``EXECUTABLE``).
4. An unhealthy or lagging secondary is replaced by its ``failover`` standby
   when that one is healthy (promotion, reason ``failover``); without one it
   drops out, and the rule's fallback (the primary by default; a rule with
   ``fallback = null`` fails the search) answers when no candidate is left.
5. An estimated candidate count above ``max_shipped_ids`` keeps the part on the
   primary unless the secondary answers the whole query by itself.
6. The cost model (``cost_model.py``) prices each remaining candidate; the
   cheapest wins. A one-level chain with a selective terminal prices the
   primary lowest (one join against terminal query + walk + ``_id`` query):
   ``primary_cheaper``.
"""

from __future__ import annotations

from polyfhir_core.config.routing import QueryFeature
from polyfhir_core.planning.analyzer import QueryAnalysis
from polyfhir_core.planning.part_router import route_part, to_primary
from polyfhir_core.planning.plan import MergeStrategy, QueryPlan, RouteDecision, RouteReason
from polyfhir_core.planning.plan_notes import (
    freshness_notes,
    primary_text_notes,
    terminology_notes,
)
from polyfhir_core.planning.reference_walks import walk_alternatives
from polyfhir_core.planning.routing_context import EXECUTABLE, NATURAL_ROLE, RoutingContext
from polyfhir_core.registry import SearchParameterRegistry

__all__ = ["EXECUTABLE", "NATURAL_ROLE", "RoutingContext", "plan_query", "route_part"]


def plan_query(analysis: QueryAnalysis, ctx: RoutingContext) -> QueryPlan:
    """Route every part and pick the merge strategy."""
    decisions = [route_part(part, analysis, ctx) for part in analysis.parts]
    primary = ctx.derived.primary
    notes: list[str] = []
    text = next((d for d in decisions if d.feature is QueryFeature.FULL_TEXT), None)
    strategy = MergeStrategy.PRIMARY_ONLY
    if text is not None and text.secondary:
        if analysis.text_only:
            strategy = MergeStrategy.SECONDARY_FILTERED
            notes.append(f"{text.backend} answers the whole query: hits in relevance order")
        elif analysis.query.resource_type is None:
            detail = (
                "a system search with other filters cannot restrict the primary by id "
                "across types: the primary answers the full text"
            )
            index = decisions.index(text)
            decisions[index] = to_primary(
                analysis.part(QueryFeature.FULL_TEXT),  # type: ignore[arg-type]
                primary,
                RouteReason.SYSTEM_SEARCH,
                detail,
                [],
            )
        else:
            restricted = analysis.id_restriction is not None
            strategy = MergeStrategy.INTERSECTION if restricted else MergeStrategy.PRIMARY_ENRICHED
            notes.append(
                f"{text.backend} ids restrict the primary (_id), which applies every other "
                "filter, sort, paging and includes"
            )
    strategy = _graph_strategy(analysis, decisions, strategy, notes, ctx)
    notes += terminology_notes(decisions)
    notes += primary_text_notes(analysis, decisions)
    notes += freshness_notes(ctx.derived, decisions)
    fallbacks = {
        d.backend: (f"falls back to {d.fallback}" if d.fallback else "fails the search (503)")
        for d in decisions
        if d.secondary
    }
    return QueryPlan(analysis, tuple(decisions), strategy, primary.id, tuple(notes), fallbacks)


WALKED = (QueryFeature.CHAIN, QueryFeature.HAS)


def _graph_strategy(
    analysis: QueryAnalysis,
    decisions: list[RouteDecision],
    strategy: MergeStrategy,
    notes: list[str],
    ctx: RoutingContext,
) -> MergeStrategy:
    """Chains/_has on the graph: candidate ids restrict the primary, like full-text hits.
    With full text on the search backend too, both id sets restrict it (intersected)."""
    walked = [d for d in decisions if d.feature in WALKED and d.secondary]
    if not walked:
        return strategy
    notes.append(
        "the primary evaluates each terminal filter, the graph walks the references back to "
        "candidate ids (_id); the primary applies every other filter, sort, paging and includes"
    )
    if _has_alternatives(analysis, walked, ctx):
        notes.append(
            "an untyped step may point at several types (any may match): one walk per type, "
            "their candidates united (union), then intersected with the other parameters'"
        )
        return MergeStrategy.UNION
    if strategy is not MergeStrategy.PRIMARY_ONLY:
        notes.append("the full-text hits and the walks' candidates are intersected")
        return strategy
    restricted = analysis.id_restriction is not None
    return MergeStrategy.INTERSECTION if restricted else MergeStrategy.PRIMARY_ENRICHED


def _has_alternatives(
    analysis: QueryAnalysis, walked: list[RouteDecision], ctx: RoutingContext
) -> bool:
    """Does a walked chain have an untyped step with several target types?"""
    rtype = analysis.query.resource_type
    if rtype is None:
        return False
    registry = ctx.registry or SearchParameterRegistry.default()
    for decision in walked:
        part = analysis.part(decision.feature)
        for param in part.params if part is not None else ():
            alternatives = walk_alternatives(rtype, param, registry)
            if alternatives is not None and len(alternatives) > 1:
                return True
    return False
