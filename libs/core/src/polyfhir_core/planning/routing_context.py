"""What routing depends on besides the query: configuration, states, estimates (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from polyfhir_core.config.backends import BackendConfig
from polyfhir_core.config.composite_config import CompositeConfig
from polyfhir_core.config.roles import BackendRole
from polyfhir_core.config.routing import QueryFeature
from polyfhir_core.planning.config_tables import ConfigTables
from polyfhir_core.planning.cost_model import PartEstimate
from polyfhir_core.planning.plan import BackendState
from polyfhir_core.registry import SearchParameterRegistry

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

    ``estimates``: candidate counts per feature (a terminal filter's count for a
    walk, hits for full text); ``fanout``: a graph backend's average references
    per resource (its stats). ``tables``: pass the :class:`ConfigTables` of
    ``config`` when routing many queries under one configuration.
    """

    config: CompositeConfig
    states: Mapping[str, BackendState] = field(default_factory=dict)
    executable: frozenset[tuple[BackendRole, QueryFeature]] = EXECUTABLE
    estimates: Mapping[QueryFeature, int] = field(default_factory=dict)
    tables: ConfigTables | None = None
    fanout: Mapping[str, float] = field(default_factory=dict)
    registry: SearchParameterRegistry | None = None  # None: the official R4 parameters

    def __post_init__(self) -> None:
        if self.tables is None:
            object.__setattr__(self, "tables", ConfigTables.of(self.config))

    @property
    def derived(self) -> ConfigTables:
        assert self.tables is not None  # set in __post_init__
        return self.tables

    def state(self, backend_id: str) -> BackendState:
        return BackendState(self.states.get(backend_id, BackendState.HEALTHY))

    def estimate(
        self, feature: QueryFeature, backends: Sequence[BackendConfig] = ()
    ) -> PartEstimate:
        """The part's candidate count and the data's fan-out (from the first of
        ``backends`` with stats): the same for every route compared."""
        fanout = next((self.fanout[b.id] for b in backends if b.id in self.fanout), None)
        return PartEstimate(self.estimates.get(feature), fanout)

    def serving(self, backend: BackendConfig) -> BackendConfig | None:
        """``backend`` when usable, else its healthy ``failover`` standby, else None."""
        if self.state(backend.id).usable:
            return backend
        standby = self.config.standby_of(backend)
        if standby is not None and self.state(standby.id).usable:
            return standby
        return None
