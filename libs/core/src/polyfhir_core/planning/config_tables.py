"""Lookups derived from a composite configuration once (the router runs on every search)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from polyfhir_core.config.backends import BackendConfig
from polyfhir_core.config.composite_config import CompositeConfig
from polyfhir_core.config.sync_mode import SyncConfig


@dataclass(frozen=True, slots=True)
class ConfigTables:
    """Lookups derived from a configuration once (the router runs on every search)."""

    primary: BackendConfig
    secondaries: tuple[BackendConfig, ...]
    sync: Mapping[str, SyncConfig]

    @classmethod
    def of(cls, config: CompositeConfig) -> ConfigTables:
        secondaries = config.secondaries
        sync = {b.id: config.sync_for(b) for b in secondaries}
        return cls(config.primary, secondaries, sync)
