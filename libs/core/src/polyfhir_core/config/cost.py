"""Cost-model inputs: what a query part costs on each backend, for the router.

One model (``docs/routing.md``, "Cost model"): every call a route makes is
priced from the weights of the backend that serves it — a fixed round trip
(``latency_ms``, scaled by the engine's kind: :data:`KIND_BASE_FACTOR`), a
share per thousand candidate ids or rows touched (``per_1k_ids_ms``), a
feature multiplier (``features``), the load the call puts on the backend
(``resource_units``) and how exact its answer is (``quality``).
:class:`CostConfig` weighs latency, resource use and quality into one score;
the router takes the cheapest capable backend.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, PositiveInt

from polyfhir_core.config._model import ConfigModel
from polyfhir_core.config.roles import BackendKind, BackendRole
from polyfhir_core.config.routing import QueryFeature

_NonNegative = Annotated[float, Field(ge=0.0)]
_Positive = Annotated[float, Field(gt=0.0)]

QUALITY_SCALE_MS = 100.0
"""A backend of quality 0 costs this many milliseconds more than one of quality 1
(before ``quality_weight``)."""


class CostWeights(ConfigModel):
    """What one call to a backend costs, in (weighted) milliseconds.

    ``latency_ms`` is the fixed cost of a round trip, ``per_1k_ids_ms`` the cost
    of producing or shipping a thousand candidate ids, ``features`` multiplies
    both for one feature (per reference step for ``chain`` and ``has``: each
    step is one more join on the primary, one more hop on a graph),
    ``resource_units`` the load a call puts on the backend (relative: the
    primary, which also takes every write, is the scarce one), ``quality`` how
    exact and complete its answers are (1 = exact) and ``weight`` a multiplier
    an operator uses to steer traffic (above 1 discourages, below 1 prefers).
    """

    latency_ms: _NonNegative = 5.0
    per_1k_ids_ms: _NonNegative = 2.0
    features: dict[QueryFeature, _Positive] = Field(default_factory=dict)
    resource_units: _NonNegative = 1.0
    quality: Annotated[float, Field(ge=0.0, le=1.0)] = 1.0
    weight: _Positive = 1.0

    def multiplier(self, feature: QueryFeature) -> float:
        return float(self.features.get(feature, 1.0))

    def call_ms(self, ids: int, feature: QueryFeature = QueryFeature.BASIC) -> float:
        """Unweighted latency of one call touching ``ids`` ids (or rows, for a walk)."""
        return (self.latency_ms + self.per_1k_ids_ms * ids / 1_000) * self.multiplier(feature)

    def resource(self, candidate_ids: int) -> float:
        """The load of one call producing ``candidate_ids`` ids."""
        return self.resource_units * (1 + candidate_ids / 1_000)

    def estimate_ms(self, candidate_ids: int) -> float:
        """Weighted latency estimate for a basic part expected to yield ``candidate_ids`` ids."""
        return self.weight * self.call_ms(candidate_ids)

    def scaled(self, factor: float) -> CostWeights:
        """These weights with the round trip scaled (a kind's base factor)."""
        return self.model_copy(update={"latency_ms": self.latency_ms * factor})


_F = QueryFeature
ROLE_DEFAULT_COSTS: dict[BackendRole, CostWeights] = {
    # a chain or _has is joins on the primary (a joined row costs twice a plain id); its
    # full text (FTS5 / tsvector) is a scan beside the other filters, without relevance;
    # its terminology modifiers join the closure and value-set rule tables and know only
    # part of what a value set may say (no imports, few filters): a fallback
    BackendRole.PRIMARY: CostWeights(
        latency_ms=3.0,
        per_1k_ids_ms=1.0,
        features={
            _F.CHAIN: 2.0,
            _F.HAS: 2.0,
            _F.FULL_TEXT: 10.0,
            _F.INCLUDE_ITERATE: 2.0,
            _F.TERMINOLOGY: 5.0,
        },
        resource_units=2.0,
    ),
    BackendRole.SEARCH: CostWeights(latency_ms=8.0, per_1k_ids_ms=3.0),
    # a hop on the graph is an adjacency lookup, not a join: no multiplier
    BackendRole.GRAPH: CostWeights(latency_ms=6.0, per_1k_ids_ms=0.25),
    BackendRole.TERMINOLOGY: CostWeights(latency_ms=3.0, per_1k_ids_ms=1.0),
    BackendRole.ARCHIVE: CostWeights(latency_ms=50.0, per_1k_ids_ms=10.0, quality=0.9),
}
"""Starting estimates per role; to tune against measurements (``benchmarks/``)."""

KIND_BASE_FACTOR: dict[BackendKind, float] = {
    BackendKind.SQLITE: 1.5,  # one writer, no parallel plans: slower joins at scale
    BackendKind.POSTGRESQL: 1.0,
    BackendKind.OPENSEARCH: 1.0,
    BackendKind.ELASTICSEARCH: 1.0,
    BackendKind.NEO4J: 1.2,  # Bolt round trip and a JVM, against FalkorDB's in-memory graph
    BackendKind.FALKORDB: 1.0,
    BackendKind.FILESYSTEM: 1.0,
    BackendKind.S3: 2.0,
}
"""Base cost per backend kind: multiplies the role's default ``latency_ms``."""


class CostConfig(ConfigModel):
    """Per-role, per-kind and per-backend (keyed by backend id) overrides, the weights of
    the three dimensions, and a shipping limit.

    A backend's weights are the first found of: ``backends[id]``, ``roles[role]``,
    ``kinds[kind]``, :data:`ROLE_DEFAULT_COSTS` scaled by :data:`KIND_BASE_FACTOR`.
    ``latency_weight``, ``resource_weight`` and ``quality_weight`` combine a route's
    estimated milliseconds, its resource use and its quality penalty into the
    score the router compares. ``assumed_candidates``: the candidate count used
    when nothing better is known (explain, the advisor, before the primary's
    estimate). ``max_shipped_ids``: above this many candidate ids the router
    stops shipping id lists between backends and lets the primary drive.
    """

    roles: dict[BackendRole, CostWeights] = Field(default_factory=dict)
    kinds: dict[BackendKind, CostWeights] = Field(default_factory=dict)
    backends: dict[str, CostWeights] = Field(default_factory=dict)
    latency_weight: _NonNegative = 1.0
    resource_weight: _NonNegative = 0.2
    quality_weight: _NonNegative = 1.0
    assumed_candidates: Annotated[int, Field(ge=0)] = 100
    max_shipped_ids: PositiveInt = 10_000

    def weights_for(
        self, backend_id: str, role: BackendRole, kind: BackendKind | None = None
    ) -> CostWeights:
        if backend_id in self.backends:
            return self.backends[backend_id]
        if role in self.roles:
            return self.roles[role]
        if kind is not None and kind in self.kinds:
            return self.kinds[kind]
        factor = KIND_BASE_FACTOR.get(kind, 1.0) if kind is not None else 1.0
        return ROLE_DEFAULT_COSTS[role].scaled(factor)
