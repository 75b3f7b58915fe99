"""The composite configuration: every backend, the routing rules and the shared defaults."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Self

from pydantic import Field, field_validator, model_validator

from polyfhir_core.config._model import ConfigModel, overlay
from polyfhir_core.config.backends import BackendConfig
from polyfhir_core.config.config_checks import collect_problems, collect_warnings
from polyfhir_core.config.cost import CostConfig, CostWeights
from polyfhir_core.config.health import HealthConfig
from polyfhir_core.config.problems import ConfigError, ConfigWarning
from polyfhir_core.config.roles import BackendRole, Capability
from polyfhir_core.config.routing import PRIMARY_ALIAS, QueryFeature, RoutingRule, by_priority
from polyfhir_core.config.sync_mode import RetryConfig, SyncConfig
from polyfhir_core.errors import BadRequest
from polyfhir_core.tenancy import TenantId


class CompositeConfig(ConfigModel):
    """The whole polyglot layout. Constructing one validates it.

    Raises :class:`ConfigError` listing every problem (one enabled primary, unique
    ids, existing failover/routing targets, ...). Non-fatal findings are
    available from :meth:`warnings`.
    """

    backends: tuple[BackendConfig, ...]
    routing: tuple[RoutingRule, ...] = ()
    sync: SyncConfig = Field(default_factory=SyncConfig)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    health: HealthConfig = Field(default_factory=HealthConfig)
    cost: CostConfig = Field(default_factory=CostConfig)
    default_tenant: str = "default"

    @field_validator("default_tenant")
    @classmethod
    def _tenant_is_valid(cls, value: str) -> str:
        try:
            return TenantId.parse(value).value
        except BadRequest as exc:
            raise ValueError(exc.message) from None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems = collect_problems(self)
        if problems:
            raise ConfigError(problems)
        return self

    def warnings(self) -> list[ConfigWarning]:
        """Findings that do not stop the system but are probably mistakes."""
        return collect_warnings(self)

    # -- lookups ---------------------------------------------------------------------

    @property
    def enabled_backends(self) -> tuple[BackendConfig, ...]:
        return tuple(b for b in self.backends if b.enabled)

    @property
    def primary(self) -> BackendConfig:
        """The one enabled primary (validation guarantees it exists)."""
        return next(b for b in self.enabled_backends if b.role is BackendRole.PRIMARY)

    @property
    def secondaries(self) -> tuple[BackendConfig, ...]:
        return tuple(b for b in self.enabled_backends if b.role.is_secondary)

    def get_backend(self, backend_id: str) -> BackendConfig | None:
        return next((b for b in self.backends if b.id == backend_id), None)

    def backend(self, backend_id: str) -> BackendConfig:
        found = self.get_backend(backend_id)
        if found is None:
            msg = f"no backend with id {backend_id!r}"
            raise KeyError(msg)
        return found

    def resolve(self, name: str) -> BackendConfig | None:
        """A rule target or fallback: a backend id, else ``"primary"`` for the primary."""
        found = self.get_backend(name)
        if found is None and name == PRIMARY_ALIAS:
            return self.primary
        return found

    def providers(self, capability: Capability) -> tuple[BackendConfig, ...]:
        """Enabled backends offering ``capability``, the primary first."""
        return tuple(
            b
            for b in sorted(self.enabled_backends, key=lambda b: b.role.is_secondary)
            if b.has(capability)
        )

    def rules_for(
        self, feature: QueryFeature, resource_type: str, parameters: Collection[str] = ()
    ) -> Sequence[RoutingRule]:
        """Matching routing rules, the one to try first first."""
        matching = (r for r in self.routing if r.matches(feature, resource_type, parameters))
        return by_priority(matching)

    # -- effective per-backend settings ------------------------------------------------

    def sync_for(self, backend: BackendConfig) -> SyncConfig:
        return overlay(self.sync, backend.sync)

    def retry_for(self, backend: BackendConfig) -> RetryConfig:
        return overlay(self.retry, backend.retry)

    def health_for(self, backend: BackendConfig) -> HealthConfig:
        return overlay(self.health, backend.health)

    def cost_for(self, backend: BackendConfig) -> CostWeights:
        return self.cost.weights_for(backend.id, backend.role, backend.kind)

    def write_waits_for(self) -> tuple[BackendConfig, ...]:
        """The enabled secondaries a write waits for before it returns."""
        return tuple(b for b in self.secondaries if self.sync_for(b).waits_for(b.role))

    def standby_of(self, backend: BackendConfig) -> BackendConfig | None:
        """The secondary standby ``backend.failover`` names (validated: same role), if any.
        A standby is usually ``enabled = false``: it serves only while promoted."""
        if backend.failover is None or not backend.role.is_secondary:
            return None
        return self.get_backend(backend.failover)

    @property
    def standbys(self) -> tuple[BackendConfig, ...]:
        """Standbys of enabled secondaries that are not enabled secondaries themselves: the
        gateway keeps a client and a health check for them, to promote one at run time."""
        enabled = {b.id for b in self.secondaries}
        found: dict[str, BackendConfig] = {}
        for backend in self.secondaries:
            standby = self.standby_of(backend)
            if standby is not None and standby.id not in enabled:
                found.setdefault(standby.id, standby)
        return tuple(found.values())
