"""The cost model: what answering one query part costs on each candidate backend (pure).

A route is a sequence of calls, each priced from the weights of the backend
that serves it (:class:`polyfhir_core.config.cost.CostWeights`):

- on the primary: one call; for a chain or ``_has`` it touches the terminal
  matches and every row its joins reach (``n * (f + f^2 + ... + f^d)`` for a
  walk of ``d`` steps with fan-out ``f``), at the primary's join multiplier;
- on a walking secondary (graph): the primary's terminal filter (ids), the
  freshness check (the primary's and the graph's positions, unless the writes
  wait for the graph or lag is not checked), the walk over the same rows, then
  the primary's ``_id``-restricted query on the candidates it reached;
- on any other secondary (search; terminology's code sets fit the same shape):
  the secondary's call (and its freshness check), then the primary restricted
  by what it returned.

A route's score is ``latency_weight`` * milliseconds + ``resource_weight`` *
resource use + ``quality_weight`` * the quality penalty of the backend that
answers, each call scaled by its backend's ``weight``. Candidate counts are the
run-time estimates when given (the primary's count for a terminal filter; a
graph's average fan-out from its stats), else ``cost.assumed_candidates``.
A walk reaching more than ``cost.max_shipped_ids`` candidates is not a
feasible graph route (the executor would fall back): its score is infinite.
With the default weights a one-step walk within that cap always prices the
primary lowest: both routes touch the same rows, the graph's adds round trips
and ships the ids twice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from polyfhir_core.config.backends import BackendConfig
from polyfhir_core.config.composite_config import CompositeConfig
from polyfhir_core.config.cost import QUALITY_SCALE_MS, CostWeights
from polyfhir_core.config.routing import QueryFeature
from polyfhir_core.planning.analyzer import QueryPart
from polyfhir_core.planning.reference_walks import walk_depth

WALKED = frozenset({QueryFeature.CHAIN, QueryFeature.HAS})


@dataclass(frozen=True, slots=True)
class Call:
    """One call of a route: which backend, what for, how many ids it yields."""

    backend: str
    what: str
    ids: int
    ms: float


@dataclass(frozen=True, slots=True)
class RouteCost:
    """The estimated cost of answering a part through ``backend`` (the score is compared)."""

    backend: str
    score: float
    latency_ms: float
    resource: float
    quality_penalty: float
    candidates: int
    assumed: bool  # the candidate count is cost.assumed_candidates, not an estimate
    calls: tuple[Call, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "score": round(self.score, 3) if math.isfinite(self.score) else "over_id_cap",
            "estimatedMs": round(self.latency_ms, 3),
            "resource": round(self.resource, 3),
            "qualityPenalty": round(self.quality_penalty, 3),
            "candidates": self.candidates,
            "assumed": self.assumed,
            "calls": [
                {"backend": c.backend, "call": c.what, "ids": c.ids, "ms": round(c.ms, 3)}
                for c in self.calls
            ],
        }


@dataclass(frozen=True, slots=True)
class PartEstimate:
    """What is known about a part's candidates: the count (``None``: assume) and, for a
    walk, the fan-out of each level from the anchors (``fanouts``, from the graph's
    per-parameter counts) or one average for every level (``fanout``; ``None``: 1)."""

    candidates: int | None = None
    fanout: float | None = None
    fanouts: tuple[float, ...] | None = None


class CostModel:
    """Prices routes for one configuration."""

    def __init__(self, config: CompositeConfig) -> None:
        self.config = config
        self.cost = config.cost

    def route_cost(
        self, part: QueryPart, target: BackendConfig, estimate: PartEstimate | None = None
    ) -> RouteCost:
        known = estimate or PartEstimate()
        assumed = known.candidates is None
        n = self.cost.assumed_candidates if known.candidates is None else known.candidates
        primary = self.config.primary
        priced: list[tuple[BackendConfig, Call]] = []
        walked = part.feature in WALKED
        steps = walk_depth(part) if walked else 1
        reached, rows = self._reach(n, known, steps) if walked else (n, n)
        if not target.role.is_secondary:
            what = f"{part.feature.value} ({steps} join{'s' if steps != 1 else ''})"
            ids = n + rows if walked else n
            priced.append(self._call(target, part.feature, ids, what if walked else ""))
        elif walked:
            for _ in range(max(len(part.params), 1)):
                priced.append(self._call(primary, QueryFeature.BASIC, n, "terminal filter"))
                priced += self._freshness(target)
                what = f"walk {steps} step{'s' if steps != 1 else ''}"
                priced.append(self._call(target, part.feature, n + rows, what))
            priced.append(self._call(primary, QueryFeature.BASIC, reached, "_id candidates"))
            if reached > self.cost.max_shipped_ids:  # the executor would fall back anyway
                return self._scored(target, priced, n, assumed, feasible=False)
        else:
            priced += self._freshness(target)
            priced.append(self._call(target, part.feature, n, part.feature.value))
            priced.append(self._call(primary, QueryFeature.BASIC, n, "_id restriction"))
        return self._scored(target, priced, n, assumed)

    def _freshness(self, target: BackendConfig) -> list[tuple[BackendConfig, Call]]:
        """The positions of the primary and of ``target``, when reads check its lag."""
        sync = self.config.sync_for(target)
        if sync.max_read_lag_ms is None or sync.waits_for(target.role):
            return []
        primary = self.config.primary
        return [
            self._call(primary, QueryFeature.BASIC, 0, "positions"),
            self._call(target, QueryFeature.BASIC, 0, "positions"),
        ]

    def _reach(self, anchors: int, known: PartEstimate, steps: int) -> tuple[int, int]:
        """(candidates reached, rows touched) walking ``steps`` from ``anchors``."""
        average = known.fanout if known.fanout is not None and known.fanout > 0 else 1.0
        fanouts = list(known.fanouts or ())[:steps]
        fanouts += [average] * (steps - len(fanouts))
        limit = 10 * self.cost.max_shipped_ids
        per_level, reached = [float(anchors)], float(anchors)
        for fanout in fanouts:
            reached *= fanout
            per_level.append(reached)
        rows = sum(per_level[1:])
        return int(min(per_level[-1], limit)), int(min(rows, 10 * limit))

    def _call(
        self, backend: BackendConfig, feature: QueryFeature, ids: int, what: str = ""
    ) -> tuple[BackendConfig, Call]:
        weights = self.config.cost_for(backend)
        call = Call(backend.id, what or feature.value, ids, weights.call_ms(ids, feature))
        return backend, call

    def _scored(
        self,
        target: BackendConfig,
        priced: list[tuple[BackendConfig, Call]],
        candidates: int,
        assumed: bool,
        *,
        feasible: bool = True,
    ) -> RouteCost:
        latency = resource = score = 0.0
        for backend, call in priced:
            weights: CostWeights = self.config.cost_for(backend)
            used = weights.resource(call.ids)
            latency += call.ms
            resource += used
            score += weights.weight * (
                self.cost.latency_weight * call.ms + self.cost.resource_weight * used
            )
        penalty = (1 - self.config.cost_for(target).quality) * QUALITY_SCALE_MS
        score += self.cost.quality_weight * penalty
        calls = tuple(call for _, call in priced)
        if not feasible:  # more candidates than max_shipped_ids: never chosen
            score = math.inf
        return RouteCost(target.id, score, latency, resource, penalty, candidates, assumed, calls)


def cheapest(costs: list[RouteCost]) -> RouteCost:
    """The lowest score; on a tie the first (the primary is listed first)."""
    return min(costs, key=lambda c: c.score)


def comparison(costs: list[RouteCost]) -> str:
    """``graph 15.1 < primary 19.3`` (cheapest first), for a decision's detail."""
    ordered = sorted(costs, key=lambda c: c.score)
    return " < ".join(f"{c.backend} {c.score:.1f}" for c in ordered)
