"""Prometheus metrics of the graph-indexer (the search-indexer's families, ``graph`` prefix)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS = Counter(
    "polyfhir_graph_events_total",
    "Change events handled by the graph indexer, by outcome",
    ["outcome"],  # applied | stale | dead_lettered
)
BATCH_SIZE = Histogram(
    "polyfhir_graph_batch_size",
    "Records per applied batch",
    buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500),
)
APPLY_SECONDS = Histogram(
    "polyfhir_graph_apply_seconds",
    "Time to apply one batch to the graph engine",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
SYNC_LAG_SECONDS = Histogram(
    "polyfhir_graph_sync_lag_seconds",
    "From an event's lastUpdated to its version being walkable",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
APPLIED_POSITION = Gauge(
    "polyfhir_graph_applied_position",
    "Highest event position applied, per partition",
    ["partition"],
)
CONSUMER_ERRORS = Counter(
    "polyfhir_graph_consumer_errors_total",
    "Batches that failed and will be retried, by error type",
    ["error"],
)


def count_consumer_error(exc: BaseException) -> None:
    CONSUMER_ERRORS.labels(type(exc).__name__).inc()


def count_dead_letter(_reason: str) -> None:
    EVENTS.labels("dead_lettered").inc()
