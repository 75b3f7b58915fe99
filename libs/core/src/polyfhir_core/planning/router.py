"""Choose a backend for every query part, and a merge strategy for the search.

Inputs: the composite configuration (routing rules, capabilities, fallbacks,
cost), a snapshot of the secondaries' states (health monitor), what the gateway
can execute, and optionally estimated candidate counts per feature (the cost
model compares them with ``cost.max_shipped_ids``). Pure: no I/O.

Order of reasoning for one part:

1. Routing rules matching the part (highest priority first). A rule whose
   target is disabled, unknown or lacks the capability is skipped.
2. Without a usable rule, the feature's natural role (full text -> search,
   chain/_has/_include:iterate -> graph, terminology -> terminology): the first
   enabled backend of that role with the capability. Other features (basic,
   include, sort) are the primary's.
3. A secondary the gateway cannot query for that feature (full text on a
   search backend, chains and ``_has`` on a graph backend, the terminology
   modifiers on a terminology backend are executable)
   leaves the part to the primary.
4. An unhealthy or lagging secondary is replaced by the rule's fallback
   (the primary by default; a rule with ``fallback = null`` fails the search).
5. An estimated candidate count above ``max_shipped_ids`` keeps the part on the
   primary unless the secondary answers the whole query by itself.
6. The graph by its role (no rule naming it) takes a chain or ``_has`` part
   only when one of its walks has at least ``GRAPH_MIN_DEPTH`` steps: a
   one-level chain or ``_has`` is one indexed join on the primary, cheaper
   than a terminal query, a walk and an ``_id``-restricted query.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from polyfhir_core.config.backends import BackendConfig
from polyfhir_core.config.composite_config import CompositeConfig
from polyfhir_core.config.roles import BackendRole
from polyfhir_core.config.routing import QueryFeature, RoutingRule
from polyfhir_core.planning.analyzer import QueryAnalysis, QueryPart
from polyfhir_core.planning.config_tables import ConfigTables
from polyfhir_core.planning.plan import (
    BackendState,
    MergeStrategy,
    QueryPlan,
    RouteDecision,
    RouteReason,
)
from polyfhir_core.planning.plan_notes import (
    freshness_notes,
    primary_text_notes,
    terminology_notes,
)
from polyfhir_core.planning.reference_walks import GRAPH_MIN_DEPTH, walk_depth

NATURAL_ROLE: dict[QueryFeature, BackendRole] = {
    QueryFeature.FULL_TEXT: BackendRole.SEARCH,
    QueryFeature.CHAIN: BackendRole.GRAPH,
    QueryFeature.HAS: BackendRole.GRAPH,
    QueryFeature.INCLUDE_ITERATE: BackendRole.GRAPH,
    QueryFeature.TERMINOLOGY: BackendRole.TERMINOLOGY,
}

EXECUTABLE: frozenset[tuple[BackendRole, QueryFeature]] = frozenset(
    {
        (BackendRole.SEARCH, QueryFeature.FULL_TEXT),
        (BackendRole.GRAPH, QueryFeature.CHAIN),
        (BackendRole.GRAPH, QueryFeature.HAS),
        (BackendRole.TERMINOLOGY, QueryFeature.TERMINOLOGY),
    }
)
"""(role, feature) pairs the gateway's executor can send to a secondary today."""


@dataclass(frozen=True, slots=True)
class RoutingContext:
    """Everything besides the query that routing depends on.

    ``tables``: pass the :class:`ConfigTables` of ``config`` when routing many
    queries under one configuration (computed from ``config`` when omitted).
    """

    config: CompositeConfig
    states: Mapping[str, BackendState] = field(default_factory=dict)
    executable: frozenset[tuple[BackendRole, QueryFeature]] = EXECUTABLE
    estimates: Mapping[QueryFeature, int] = field(default_factory=dict)
    tables: ConfigTables | None = None

    def __post_init__(self) -> None:
        if self.tables is None:
            object.__setattr__(self, "tables", ConfigTables.of(self.config))

    @property
    def derived(self) -> ConfigTables:
        assert self.tables is not None  # set in __post_init__
        return self.tables

    def state(self, backend_id: str) -> BackendState:
        return BackendState(self.states.get(backend_id, BackendState.HEALTHY))


def route_part(part: QueryPart, analysis: QueryAnalysis, ctx: RoutingContext) -> RouteDecision:
    """The decision for one part (see the module docstring)."""
    config = ctx.config
    primary = ctx.derived.primary
    rtype = analysis.query.resource_type or ""
    skipped: list[str] = []
    for rule in config.rules_for(part.feature, rtype, part.parameter_names):
        target = config.resolve(rule.target)
        if target is None or not target.enabled:
            skipped.append(f"rule {rule.name}: target {rule.target} is not enabled")
            continue
        if not _capable(target, part.feature):
            skipped.append(f"rule {rule.name}: {target.id} lacks {part.feature.value}")
            continue
        return _checked(part, analysis, ctx, target, rule, skipped)
    role = NATURAL_ROLE.get(part.feature)
    if role is None:
        detail = f"{part.feature.value} is served by the primary"
        return _to_primary(part, primary, RouteReason.PRIMARY_FEATURE, detail, skipped)
    found = next(
        (b for b in ctx.derived.secondaries if b.role is role and _capable(b, part.feature)), None
    )
    if found is None:
        detail = f"no enabled {role.value} backend: the primary answers {part.feature.value}"
        return _to_primary(part, primary, RouteReason.NO_BACKEND, detail, skipped)
    return _checked(part, analysis, ctx, found, None, skipped)


def _checked(
    part: QueryPart,
    analysis: QueryAnalysis,
    ctx: RoutingContext,
    target: BackendConfig,
    rule: RoutingRule | None,
    skipped: list[str],
) -> RouteDecision:
    config = ctx.config
    primary = ctx.derived.primary
    if not target.role.is_secondary:
        detail = f"rule {rule.name if rule else '?'} sends {part.feature.value} to the primary"
        return _to_primary(part, primary, RouteReason.RULE, detail, skipped, rule)
    if (target.role, part.feature) not in ctx.executable:
        detail = (
            f"{target.id} ({target.role.value}) is configured for {part.feature.value}, but the "
            f"gateway cannot query a {target.role.value} backend for it yet: the primary answers"
        )
        return _to_primary(part, primary, RouteReason.NOT_EXECUTABLE, detail, skipped, rule)
    if rule is None and target.role is BackendRole.GRAPH and walk_depth(part) < GRAPH_MIN_DEPTH:
        detail = (
            f"a {part.feature.value} of one step is one join on the primary, cheaper than "
            f"a walk on {target.id}"
        )
        return _to_primary(part, primary, RouteReason.PRIMARY_CHEAPER, detail, skipped)
    fallback = _fallback(config, primary, rule)
    state = ctx.state(target.id)
    if not state.usable:
        return _unavailable(part, primary, target, state, fallback, rule, skipped)
    return _costed(part, analysis, ctx, target, rule, fallback, skipped)


def _costed(
    part: QueryPart,
    analysis: QueryAnalysis,
    ctx: RoutingContext,
    target: BackendConfig,
    rule: RoutingRule | None,
    fallback: BackendConfig | None,
    skipped: list[str],
) -> RouteDecision:
    """A usable secondary: keep it unless the estimated candidates exceed the id cap."""
    config = ctx.config
    estimated = ctx.estimates.get(part.feature)
    cost = config.cost_for(target).estimate_ms(estimated) if estimated is not None else None
    cap = config.cost.max_shipped_ids
    if estimated is not None and estimated > cap and not analysis.text_only:
        detail = (
            f"about {estimated} candidate ids from {target.id} exceed max_shipped_ids ({cap}): "
            "the primary answers the whole query"
        )
        primary = ctx.derived.primary
        decision = _to_primary(part, primary, RouteReason.OVER_ID_CAP, detail, skipped, rule)
        return replace(decision, estimated_ids=estimated)
    reason = RouteReason.RULE if rule is not None else RouteReason.ROLE_DEFAULT
    how = f"rule {rule.name}" if rule is not None else f"the enabled {target.role.value} backend"
    detail = _joined([*skipped, f"{how}: {target.id} serves {part.feature.value}"])
    return RouteDecision(
        part.feature,
        target.id,
        target.role,
        reason,
        detail,
        fallback=fallback.id if fallback is not None else None,
        rule=rule.name if rule is not None else None,
        estimated_ids=estimated,
        estimated_ms=cost,
    )


def _unavailable(
    part: QueryPart,
    primary: BackendConfig,
    target: BackendConfig,
    state: BackendState,
    fallback: BackendConfig | None,
    rule: RoutingRule | None,
    skipped: list[str],
) -> RouteDecision:
    reason = RouteReason.UNHEALTHY if state is BackendState.UNHEALTHY else RouteReason.LAGGING
    if fallback is None:
        detail = (
            f"{target.id} is {state.value} and rule {rule.name if rule else '?'} has no fallback"
        )
        return RouteDecision(
            part.feature,
            target.id,
            target.role,
            RouteReason.NO_FALLBACK,
            detail,
            rule=rule.name if rule else None,
        )
    detail = f"{target.id} is {state.value}: the primary answers {part.feature.value}"
    return _to_primary(part, primary, reason, detail, skipped, rule)


def _fallback(
    config: CompositeConfig, primary: BackendConfig, rule: RoutingRule | None
) -> BackendConfig | None:
    if rule is None:
        return primary
    if rule.fallback is None:
        return None
    # Fallbacks are answered by the primary: no other secondary is executable for a part.
    return primary if config.resolve(rule.fallback) is not None else None


def _to_primary(
    part: QueryPart,
    primary: BackendConfig,
    reason: RouteReason,
    detail: str,
    skipped: list[str],
    rule: RoutingRule | None = None,
) -> RouteDecision:
    return RouteDecision(
        part.feature,
        primary.id,
        primary.role,
        reason,
        _joined([*skipped, detail]),
        rule=rule.name if rule is not None else None,
    )


def _capable(backend: BackendConfig, feature: QueryFeature) -> bool:
    return any(backend.has(c) for c in feature.required_capabilities)


def _joined(lines: list[str]) -> str:
    return "; ".join(lines)


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
            decisions[index] = _to_primary(
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
    strategy = _graph_strategy(analysis, decisions, strategy, notes)
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
    if strategy is not MergeStrategy.PRIMARY_ONLY:
        notes.append("the full-text hits and the walks' candidates are intersected")
        return strategy
    restricted = analysis.id_restriction is not None
    return MergeStrategy.INTERSECTION if restricted else MergeStrategy.PRIMARY_ENRICHED
