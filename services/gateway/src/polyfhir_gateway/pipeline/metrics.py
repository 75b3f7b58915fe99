"""Prometheus metrics of the query pipeline: routing decisions, fallbacks, health, sync waits."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from polyfhir_core.planning import BackendState

ROUTE_DECISIONS = Counter(
    "polyfhir_gateway_route_decisions_total",
    "Query parts routed, per feature and the backend that served them",
    ["feature", "backend"],
)
FALLBACKS = Counter(
    "polyfhir_gateway_route_fallbacks_total",
    "Searches a secondary was planned for but the primary answered, per reason",
    ["backend", "reason"],
)
BACKEND_STATE = Gauge(
    "polyfhir_gateway_backend_state",
    "1 for the current state of each secondary (healthy, unhealthy, lagging), else 0",
    ["backend", "state"],
)
SYNC_WAIT_TIMEOUTS = Counter(
    "polyfhir_gateway_sync_wait_timeouts_total",
    "Writes a synchronous secondary had not applied within its sync timeout",
    ["backend"],
)


PROMOTIONS = Gauge(
    "polyfhir_gateway_backend_promoted",
    "1 while the standby serves the role of the unavailable backend (failover), else 0",
    ["backend", "standby"],
)


def set_promotion(backend: str, standby: str, *, active: bool) -> None:
    PROMOTIONS.labels(backend, standby).set(1 if active else 0)


def set_backend_state(backend: str, state: BackendState) -> None:
    for candidate in BackendState:
        BACKEND_STATE.labels(backend, candidate.value).set(1 if candidate is state else 0)


INDEX_REPAIRS = Counter(
    "polyfhir_gateway_index_repairs_total",
    "Automatic repairs of an incomplete search index (every tenant), per outcome "
    "(complete, superseded: a new gap or generation appeared meanwhile, failed)",
    ["backend", "outcome"],
)
