"""Prometheus metrics of the search-indexer."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS = Counter(
    "polyfhir_search_events_total",
    "Change events handled by the search indexer, by outcome",
    ["outcome"],  # applied | stale | dead_lettered
)
BATCH_SIZE = Histogram(
    "polyfhir_search_batch_size",
    "Records per applied batch",
    buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500),
)
APPLY_SECONDS = Histogram(
    "polyfhir_search_apply_seconds",
    "Time to apply one batch to the search engine",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
SYNC_LAG_SECONDS = Histogram(
    "polyfhir_search_sync_lag_seconds",
    "From an event's lastUpdated to its version being searchable",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
APPLIED_POSITION = Gauge(
    "polyfhir_search_applied_position",
    "Highest event position applied, per partition",
    ["partition"],
)
POSITION_GAPS = Counter(
    "polyfhir_search_position_gaps_total",
    "Batches whose positions jumped past the next expected one (events lost on the way)",
)
INDEX_NOT_FRESH = Counter(
    "polyfhir_search_not_fresh_refusals_total",
    "Searches refused because the index cannot prove it is complete",
)
CONSUMER_ERRORS = Counter(
    "polyfhir_search_consumer_errors_total",
    "Batches that failed and will be retried, by error type",
    ["error"],
)


def count_consumer_error(exc: BaseException) -> None:
    CONSUMER_ERRORS.labels(type(exc).__name__).inc()


def count_dead_letter(_reason: str) -> None:
    EVENTS.labels("dead_lettered").inc()
