"""One configured backend: an engine (kind) playing a role at a URL."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from polyfhir_core.config._model import ConfigModel
from polyfhir_core.config.health import HealthOverride
from polyfhir_core.config.roles import BackendKind, BackendRole, Capability
from polyfhir_core.config.sync_mode import RetryOverride, SyncConfig

BackendId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_\-]{0,62}$")]
"""Lower-case letters, digits, ``_`` and ``-``; starts with a letter."""


class BackendConfig(ConfigModel):
    """A backend in the composite.

    ``capabilities`` replaces the role's typical capabilities when given.
    ``failover`` names a standby backend of the same role (usually disabled)
    that takes over when this one is unhealthy. ``sync``, ``retry`` and
    ``health`` override the composite's defaults field by field: only the
    settings written here replace the defaults, and the combination is
    validated. ``options`` is passed through to the engine's adapter (index
    prefix, database name, pool size, ...).
    """

    id: BackendId
    role: BackendRole
    kind: BackendKind
    url: str = Field(min_length=1, repr=False)
    enabled: bool = True
    capabilities: frozenset[Capability] | None = None
    failover: BackendId | None = None
    sync: SyncConfig | None = None
    retry: RetryOverride | None = None
    health: HealthOverride | None = None
    options: dict[str, Any] = Field(default_factory=dict)

    @property
    def effective_capabilities(self) -> frozenset[Capability]:
        if self.capabilities is not None:
            return self.capabilities
        return self.role.typical_capabilities

    def has(self, capability: Capability) -> bool:
        return capability in self.effective_capabilities

    @property
    def redacted_url(self) -> str:
        """``url`` with any password replaced by ``***``, safe to log."""
        return redact_url(self.url)


_PASSWORD = re.compile(r"(?P<head>://[^:/@]*):[^@/]*@")


def redact_url(url: str) -> str:
    """Replace the password of ``scheme://user:password@host`` with ``***``."""
    return _PASSWORD.sub(r"\g<head>:***@", url, count=1)
