"""Cost-model inputs: what a query part costs on each backend, for the router."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, PositiveInt

from polyfhir_core.config._model import ConfigModel
from polyfhir_core.config.roles import BackendRole

_NonNegative = Annotated[float, Field(ge=0.0)]


class CostWeights(ConfigModel):
    """Estimated cost of one query part on a backend, in milliseconds.

    ``latency_ms`` is the fixed cost of a round trip, ``per_1k_ids_ms`` the cost
    of producing or shipping a thousand candidate ids, and ``weight`` a multiplier
    an operator uses to steer traffic (above 1 discourages, below 1 prefers).
    """

    latency_ms: _NonNegative = 5.0
    per_1k_ids_ms: _NonNegative = 2.0
    weight: Annotated[float, Field(gt=0.0)] = 1.0

    def estimate_ms(self, candidate_ids: int) -> float:
        """Weighted estimate for a part expected to yield ``candidate_ids`` ids."""
        return self.weight * (self.latency_ms + self.per_1k_ids_ms * candidate_ids / 1_000)


ROLE_DEFAULT_COSTS: dict[BackendRole, CostWeights] = {
    BackendRole.PRIMARY: CostWeights(latency_ms=2.0, per_1k_ids_ms=1.0),
    BackendRole.SEARCH: CostWeights(latency_ms=8.0, per_1k_ids_ms=3.0),
    BackendRole.GRAPH: CostWeights(latency_ms=10.0, per_1k_ids_ms=4.0),
    BackendRole.TERMINOLOGY: CostWeights(latency_ms=2.0, per_1k_ids_ms=1.0),
    BackendRole.ARCHIVE: CostWeights(latency_ms=50.0, per_1k_ids_ms=10.0),
}


class CostConfig(ConfigModel):
    """Per-role and per-backend (keyed by backend id) overrides, and a shipping limit.

    A backend's weights are the first found of: ``backends[id]``, ``roles[role]``,
    :data:`ROLE_DEFAULT_COSTS`. ``max_shipped_ids``: above this many candidate ids
    the router stops shipping id lists between backends and pushes filters down
    or lets the primary drive.
    """

    roles: dict[BackendRole, CostWeights] = Field(default_factory=dict)
    backends: dict[str, CostWeights] = Field(default_factory=dict)
    max_shipped_ids: PositiveInt = 10_000

    def weights_for(self, backend_id: str, role: BackendRole) -> CostWeights:
        if backend_id in self.backends:
            return self.backends[backend_id]
        return self.roles.get(role, ROLE_DEFAULT_COSTS[role])
