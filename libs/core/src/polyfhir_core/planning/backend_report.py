"""What the advisor says about configured backends and engine kinds (pure, JSON-ready)."""

from __future__ import annotations

from typing import Any

from polyfhir_core.config import BackendConfig, BackendKind, CompositeConfig
from polyfhir_core.config.cost import KIND_BASE_FACTOR, ROLE_DEFAULT_COSTS
from polyfhir_core.planning.routing_context import EXECUTABLE


def describe_backend(config: CompositeConfig, backend: BackendConfig) -> dict[str, Any]:
    """A backend's effective settings: capabilities, failover, sync, retry, health, cost."""
    out: dict[str, Any] = {
        "id": backend.id,
        "role": backend.role.value,
        "kind": backend.kind.value,
        "url": backend.redacted_url,
        "enabled": backend.enabled,
        "capabilities": sorted(c.value for c in backend.effective_capabilities),
        "queried": sorted(f.value for r, f in EXECUTABLE if r is backend.role),
        "failover": backend.failover,
        "cost": config.cost_for(backend).model_dump(mode="json"),
    }
    standby_for = [b.id for b in config.secondaries if b.failover == backend.id]
    if standby_for:
        out["standbyFor"] = standby_for
    if backend.role.is_secondary:
        out["sync"] = config.sync_for(backend).model_dump(mode="json")
        out["health"] = config.health_for(backend).model_dump(mode="json")
    out["retry"] = config.retry_for(backend).model_dump(mode="json")
    return out


def describe_kind(config: CompositeConfig, kind: BackendKind) -> dict[str, Any]:
    """What an engine kind can do and costs by default, and the backends of that kind."""
    return {
        "kind": kind.value,
        "roles": sorted(r.value for r in kind.roles),
        "urlSchemes": sorted(kind.url_schemes),
        "baseCostFactor": KIND_BASE_FACTOR.get(kind, 1.0),
        "defaultCost": {
            r.value: ROLE_DEFAULT_COSTS[r]
            .scaled(KIND_BASE_FACTOR.get(kind, 1.0))
            .model_dump(mode="json")
            for r in sorted(kind.roles)
        },
        "backends": [describe_backend(config, b) for b in config.backends if b.kind is kind],
    }
