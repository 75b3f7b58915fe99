"""The composite (polyglot) configuration: backends, sync, routing, cost and health.

Pure domain model; the only I/O is :func:`load_config` reading one file. See
``docs/configuration.md`` for every setting.
"""

from polyfhir_core.config.backends import BackendConfig, BackendId, redact_url
from polyfhir_core.config.composite_config import CompositeConfig
from polyfhir_core.config.cost import ROLE_DEFAULT_COSTS, CostConfig, CostWeights
from polyfhir_core.config.env_overrides import (
    CONFIG_FILE_VARIABLE,
    ENV_PREFIX,
    apply_env_overrides,
)
from polyfhir_core.config.health import HealthConfig, HealthOverride
from polyfhir_core.config.loading import (
    DEFAULT_PRIMARY_URL,
    default_config,
    load_config,
    parse_config,
    read_config_file,
)
from polyfhir_core.config.problems import ConfigError, ConfigProblem, ConfigWarning
from polyfhir_core.config.roles import BackendKind, BackendRole, Capability
from polyfhir_core.config.routing import PRIMARY_ALIAS, QueryFeature, RouteMatch, RoutingRule
from polyfhir_core.config.sync_mode import (
    Asynchronous,
    Hybrid,
    RetryConfig,
    RetryOverride,
    SyncConfig,
    Synchronous,
    SyncMode,
)

__all__ = [
    "CONFIG_FILE_VARIABLE",
    "DEFAULT_PRIMARY_URL",
    "ENV_PREFIX",
    "PRIMARY_ALIAS",
    "ROLE_DEFAULT_COSTS",
    "Asynchronous",
    "BackendConfig",
    "BackendId",
    "BackendKind",
    "BackendRole",
    "Capability",
    "CompositeConfig",
    "ConfigError",
    "ConfigProblem",
    "ConfigWarning",
    "CostConfig",
    "CostWeights",
    "HealthConfig",
    "HealthOverride",
    "Hybrid",
    "QueryFeature",
    "RetryConfig",
    "RetryOverride",
    "RouteMatch",
    "RoutingRule",
    "SyncConfig",
    "SyncMode",
    "Synchronous",
    "apply_env_overrides",
    "default_config",
    "load_config",
    "parse_config",
    "read_config_file",
    "redact_url",
]
