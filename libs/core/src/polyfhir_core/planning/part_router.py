"""One decision per query part: rules, candidates, health and failover, the cost model.

See :mod:`polyfhir_core.planning.router` for the order of reasoning.
"""

from __future__ import annotations

from dataclasses import replace

from polyfhir_core.config.backends import BackendConfig
from polyfhir_core.config.composite_config import CompositeConfig
from polyfhir_core.config.routing import QueryFeature, RoutingRule
from polyfhir_core.planning.analyzer import QueryAnalysis, QueryPart
from polyfhir_core.planning.cost_model import RouteCost, cheapest, comparison
from polyfhir_core.planning.plan import BackendState, RouteDecision, RouteReason
from polyfhir_core.planning.routing_context import NATURAL_ROLE, RoutingContext


def route_part(part: QueryPart, analysis: QueryAnalysis, ctx: RoutingContext) -> RouteDecision:
    """The decision for one part (see the router's module docstring)."""
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
        return _by_rule(part, analysis, ctx, target, rule, skipped)
    role = NATURAL_ROLE.get(part.feature)
    if role is None:
        detail = f"{part.feature.value} is served by the primary"
        return to_primary(part, primary, RouteReason.PRIMARY_FEATURE, detail, skipped)
    found = [b for b in ctx.derived.secondaries if b.role is role and _capable(b, part.feature)]
    if not found:
        detail = f"no enabled {role.value} backend: the primary answers {part.feature.value}"
        return to_primary(part, primary, RouteReason.NO_BACKEND, detail, skipped)
    return _cheapest(part, analysis, ctx, found, skipped)


def _by_rule(
    part: QueryPart,
    analysis: QueryAnalysis,
    ctx: RoutingContext,
    target: BackendConfig,
    rule: RoutingRule,
    skipped: list[str],
) -> RouteDecision:
    primary = ctx.derived.primary
    if not target.role.is_secondary:
        detail = f"rule {rule.name} sends {part.feature.value} to the primary"
        return to_primary(part, primary, RouteReason.RULE, detail, skipped, rule)
    if (target.role, part.feature) not in ctx.executable:
        return to_primary(
            part, primary, RouteReason.NOT_EXECUTABLE, _not_executable(target, part), skipped, rule
        )
    fallback = _fallback(ctx.config, primary, rule)
    serving = ctx.serving(target)
    if serving is None:
        return _unavailable(part, primary, target, ctx.state(target.id), fallback, rule, skipped)
    capped = _over_cap(part, analysis, ctx, serving, skipped, rule)
    if capped is not None:
        return capped
    cost = ctx.derived.costs.route_cost(part, serving, ctx.estimate(part.feature, [serving]))
    how = f"rule {rule.name}: {serving.id} serves {part.feature.value}"
    return _secondary(part, serving, target, rule, fallback, [*skipped, how], (cost,))


def _cheapest(
    part: QueryPart,
    analysis: QueryAnalysis,
    ctx: RoutingContext,
    found: list[BackendConfig],
    skipped: list[str],
) -> RouteDecision:
    """No rule: the cheapest of the primary and the usable capable secondaries."""
    primary = ctx.derived.primary
    runnable = [b for b in found if (b.role, part.feature) in ctx.executable]
    if not runnable:
        reason, detail = RouteReason.NOT_EXECUTABLE, _not_executable(found[0], part)
        return to_primary(part, primary, reason, detail, skipped)
    serving = {b.id: s for b in runnable if (s := ctx.serving(b)) is not None}
    if not serving:
        down = runnable[0]
        return _unavailable(part, primary, down, ctx.state(down.id), primary, None, skipped)
    capped = _over_cap(part, analysis, ctx, next(iter(serving.values())), skipped, None)
    if capped is not None:
        return capped
    model = ctx.derived.costs
    priced = {b.id: b for b in serving.values()}
    estimate = ctx.estimate(part.feature, list(priced.values()))
    costs = [model.route_cost(part, primary, estimate)]
    costs += [model.route_cost(part, b, estimate) for b in priced.values()]
    best = cheapest(costs)
    why = f"cost: {comparison(costs)}" + (" (assumed candidates)" if best.assumed else "")
    if best.backend == primary.id:
        detail = f"the primary is cheapest for this {part.feature.value}; {why}"
        decision = to_primary(part, primary, RouteReason.PRIMARY_CHEAPER, detail, skipped)
        return replace(decision, estimated_ms=best.score, costs=tuple(costs))
    winner = priced[best.backend]
    origin = next(b for b in runnable if serving[b.id].id == winner.id)
    lines = [*skipped, f"{winner.id} serves {part.feature.value}; {why}"]
    return _secondary(part, winner, origin, None, primary, lines, tuple(costs))


def _secondary(
    part: QueryPart,
    serving: BackendConfig,
    origin: BackendConfig,
    rule: RoutingRule | None,
    fallback: BackendConfig | None,
    lines: list[str],
    costs: tuple[RouteCost, ...],
) -> RouteDecision:
    promoted = serving.id != origin.id
    if promoted:
        reason = RouteReason.FAILOVER
        lines = [f"{origin.id} is unavailable: its standby {serving.id} is promoted", *lines]
    else:
        reason = RouteReason.RULE if rule is not None else RouteReason.ROLE_DEFAULT
    own = next((c for c in costs if c.backend == serving.id), None)
    return RouteDecision(
        part.feature,
        serving.id,
        serving.role,
        reason,
        "; ".join(lines),
        fallback=fallback.id if fallback is not None else None,
        rule=rule.name if rule is not None else None,
        estimated_ids=own.candidates if own is not None and not own.assumed else None,
        estimated_ms=own.score if own is not None else None,
        costs=costs,
        promoted_from=origin.id if promoted else None,
    )


def _over_cap(
    part: QueryPart,
    analysis: QueryAnalysis,
    ctx: RoutingContext,
    target: BackendConfig,
    skipped: list[str],
    rule: RoutingRule | None,
) -> RouteDecision | None:
    estimated = ctx.estimates.get(part.feature)
    cap = ctx.config.cost.max_shipped_ids
    if estimated is None or estimated <= cap or analysis.text_only:
        return None
    detail = (
        f"about {estimated} candidate ids from {target.id} exceed max_shipped_ids ({cap}): "
        "the primary answers the whole query"
    )
    primary = ctx.derived.primary
    decision = to_primary(part, primary, RouteReason.OVER_ID_CAP, detail, skipped, rule)
    return replace(decision, estimated_ids=estimated)


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
    standby = f" and so is its standby {target.failover}" if target.failover else ""
    if fallback is None:
        detail = (
            f"{target.id} is {state.value}{standby} and rule "
            f"{rule.name if rule else '?'} has no fallback"
        )
        return RouteDecision(
            part.feature,
            target.id,
            target.role,
            RouteReason.NO_FALLBACK,
            detail,
            rule=rule.name if rule else None,
        )
    detail = f"{target.id} is {state.value}{standby}: the primary answers {part.feature.value}"
    return to_primary(part, primary, reason, detail, skipped, rule)


def _fallback(
    config: CompositeConfig, primary: BackendConfig, rule: RoutingRule | None
) -> BackendConfig | None:
    if rule is None:
        return primary
    if rule.fallback is None:
        return None
    # Fallbacks are answered by the primary: a standby is promoted before (failover).
    return primary if config.resolve(rule.fallback) is not None else None


def to_primary(
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
        "; ".join([*skipped, detail]),
        rule=rule.name if rule is not None else None,
    )


def _not_executable(target: BackendConfig, part: QueryPart) -> str:
    return (
        f"{target.id} ({target.role.value}) is configured for {part.feature.value}, but the "
        f"gateway cannot query a {target.role.value} backend for it yet: the primary answers"
    )


def _capable(backend: BackendConfig, feature: QueryFeature) -> bool:
    return any(backend.has(c) for c in feature.required_capabilities)
