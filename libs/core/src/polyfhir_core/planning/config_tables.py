"""Lookups derived from a composite configuration once (the router runs on every search)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from polyfhir_core.config.backends import BackendConfig
from polyfhir_core.config.composite_config import CompositeConfig
from polyfhir_core.config.sync_mode import SyncConfig
from polyfhir_core.planning.cost_model import CostModel


@dataclass(frozen=True, slots=True)
class ConfigTables:
    """Lookups derived from a configuration once (the router runs on every search).

    ``sync`` holds the effective settings of every secondary and of every standby
    a secondary may be promoted to (``failover``)."""

    primary: BackendConfig
    secondaries: tuple[BackendConfig, ...]
    sync: Mapping[str, SyncConfig]
    costs: CostModel

    @classmethod
    def of(cls, config: CompositeConfig) -> ConfigTables:
        secondaries = config.secondaries
        sync = {b.id: config.sync_for(b) for b in (*secondaries, *config.standbys)}
        return cls(config.primary, secondaries, sync, CostModel(config))
