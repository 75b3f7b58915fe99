"""The query plan: per query part where it goes and why, and how the answers merge.

A plan is what ``GET /admin/explain`` shows and what the gateway's executor
follows. It never contains results; the executor may still fall back to the
primary at run time (secondary down, slow, lagging, too many ids), and then
reports that fallback next to the plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from polyfhir_core.config.roles import BackendRole
from polyfhir_core.config.routing import QueryFeature
from polyfhir_core.planning.analyzer import QueryAnalysis, QueryPart
from polyfhir_core.planning.cost_model import RouteCost


class BackendState(StrEnum):
    """What the health monitor knows about a secondary."""

    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"  # failed its checks: bypassed
    LAGGING = "lagging"  # a synchronous wait timed out: bypassed until caught up

    @property
    def usable(self) -> bool:
        return self is BackendState.HEALTHY


class RouteReason(StrEnum):
    """Why a part went where it went (stable codes; explain and metrics use them)."""

    PRIMARY_FEATURE = "primary_feature"  # only the primary serves this feature
    RULE = "rule"  # a routing rule chose the target
    ROLE_DEFAULT = "role_default"  # no rule: the cheapest secondary of the feature's role
    NO_BACKEND = "no_backend"  # no enabled secondary for the feature's role
    NOT_EXECUTABLE = "not_executable"  # the gateway has no executor for that role yet
    INCAPABLE = "incapable"  # the target lacks the capability
    UNHEALTHY = "unhealthy"
    LAGGING = "lagging"
    OVER_ID_CAP = "over_id_cap"  # estimated candidates above cost.max_shipped_ids
    NO_FALLBACK = "no_fallback"  # target unavailable and the rule names no fallback
    SYSTEM_SEARCH = "system_search"  # ids cannot be shipped across types with other filters
    PRIMARY_CHEAPER = "primary_cheaper"  # the cost model prices the primary lowest
    FAILOVER = "failover"  # the target is unhealthy: its healthy standby serves (promoted)


class MergeStrategy(StrEnum):
    PRIMARY_ONLY = "primary_only"  # the primary answers everything
    SECONDARY_FILTERED = "secondary_filtered"  # secondary hits in score order, resources by id
    PRIMARY_ENRICHED = "primary_enriched"  # secondary ids as an _id restriction on the primary
    INTERSECTION = "intersection"  # as PRIMARY_ENRICHED, intersected with the query's own _id
    UNION = "union"  # id sets of OR-ed alternatives combined (see docs/routing.md)


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """Where one query part goes.

    ``backend``: the backend id that serves it. ``fallback``: the backend used
    if ``backend`` fails at run time (``None``: the search fails with 503).
    ``reason`` (code) and ``detail`` (for humans) explain the choice;
    ``estimated_ms`` is the winning route's score; ``costs`` every candidate's priced
    route (explain shows why the winner won). ``promoted_from``: the unhealthy backend
    whose ``failover`` standby serves instead.
    """

    feature: QueryFeature
    backend: str
    role: BackendRole
    reason: RouteReason
    detail: str
    fallback: str | None = None
    rule: str | None = None
    estimated_ids: int | None = None
    estimated_ms: float | None = None
    costs: tuple[RouteCost, ...] = ()
    promoted_from: str | None = None

    @property
    def secondary(self) -> bool:
        return self.role.is_secondary

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "feature": self.feature.value,
            "backend": self.backend,
            "role": self.role.value,
            "reason": self.reason.value,
            "detail": self.detail,
            "fallback": self.fallback,
        }
        if self.rule is not None:
            out["rule"] = self.rule
        if self.estimated_ids is not None:
            out["estimatedIds"] = self.estimated_ids
        if self.estimated_ms is not None:
            out["estimatedMs"] = round(self.estimated_ms, 3)
        if self.costs:
            out["candidates"] = [c.to_json() for c in self.costs]
        if self.promoted_from is not None:
            out["promotedFrom"] = self.promoted_from
        return out


@dataclass(frozen=True, slots=True)
class QueryPlan:
    """The analysis, one decision per part, and the merge strategy."""

    analysis: QueryAnalysis
    decisions: tuple[RouteDecision, ...]
    strategy: MergeStrategy
    primary: str
    notes: tuple[str, ...] = ()
    fallbacks: dict[str, str] = field(default_factory=dict)  # backend -> what happens if it fails

    def decision(self, feature: QueryFeature) -> RouteDecision | None:
        return next((d for d in self.decisions if d.feature is feature), None)

    @property
    def secondary_decisions(self) -> tuple[RouteDecision, ...]:
        return tuple(d for d in self.decisions if d.secondary)

    @property
    def backends(self) -> tuple[str, ...]:
        """The backends the plan uses, secondaries first (the route header's order)."""
        names = [d.backend for d in self.secondary_decisions]
        names.append(self.primary)  # resources are always read from the primary
        return tuple(dict.fromkeys(names))

    def to_json(self) -> dict[str, Any]:
        parts = [_part_json(part, self.decision(part.feature)) for part in self.analysis.parts]
        query = self.analysis.query
        return {
            "resourceType": query.resource_type,
            "features": [f.value for f in self.analysis.features],
            "complexity": self.analysis.complexity,
            "parts": parts,
            "strategy": self.strategy.value,
            "backends": list(self.backends),
            "fallbacks": dict(self.fallbacks),
            "notes": list(self.notes),
        }


def _part_json(part: QueryPart, decision: RouteDecision | None) -> dict[str, Any]:
    out: dict[str, Any] = {"feature": part.feature.value, "query": part.describe()}
    if decision is not None:
        out["route"] = decision.to_json()
    return out
