"""Prometheus metrics of the primary store."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from functools import wraps
from typing import Any, ParamSpec, Protocol, TypeVar

from prometheus_client import Counter, Gauge, Histogram

STORAGE_LATENCY = Histogram(
    "polyfhir_storage_operation_seconds",
    "Latency of primary-store operations: writes (transaction, batch) and reads (read,"
    " vread, read_many, search, history)",
    ["operation"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)

P = ParamSpec("P")
R = TypeVar("R")


def timed(
    operation: str,
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Coroutine[Any, Any, R]]]:
    """Record an async operation's latency (failures too) under ``operation``."""
    observed = STORAGE_LATENCY.labels(operation=operation)

    def wrap(call: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
        @wraps(call)
        async def timed_call(*args: P.args, **kwargs: P.kwargs) -> R:
            started = time.perf_counter()
            try:
                return await call(*args, **kwargs)
            finally:
                observed.observe(time.perf_counter() - started)

        return timed_call

    return wrap


POOL_SIZE = Gauge("polyfhir_db_pool_size", "Open connections in the PostgreSQL pool")
POOL_IN_USE = Gauge(
    "polyfhir_db_pool_in_use", "PostgreSQL pool connections acquired (serving a request)"
)
POOL_MAX_SIZE = Gauge(
    "polyfhir_db_pool_max_size", "The PostgreSQL pool's limit (POLYFHIR_PG_POOL_MAX)"
)


class SizedPool(Protocol):
    """What the pool gauges read (asyncpg.Pool has these)."""

    def get_size(self) -> int: ...

    def get_idle_size(self) -> int: ...

    def get_max_size(self) -> int: ...


def watch_pool(pool: SizedPool) -> None:
    """The gauges read ``pool`` at each scrape (one pool per primary-store process)."""
    POOL_SIZE.set_function(pool.get_size)
    POOL_IN_USE.set_function(lambda: pool.get_size() - pool.get_idle_size())
    POOL_MAX_SIZE.set_function(pool.get_max_size)


OUTBOX_BACKLOG = Gauge("polyfhir_outbox_backlog", "Outbox rows not yet published")
PUBLISH_LATENCY = Histogram(
    "polyfhir_outbox_publish_latency_seconds",
    "From the write of a change (its outbox row, inside the committing transaction)"
    " to the broker's acknowledgement of its event",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
EVENTS_PUBLISHED = Counter(
    "polyfhir_outbox_events_published_total", "Change events acknowledged by the broker"
)
RELAY_FAILURES = Counter(
    "polyfhir_outbox_relay_failures_total",
    "Relay cycles that failed (broker or database unavailable); the relay retries",
)

OUTBOX_DEAD_LETTERED = Counter(
    "polyfhir_outbox_dead_lettered_total",
    "Outbox rows the broker refused for good (too large, invalid), set aside instead of"
    " retried; list and retry them as docs/operations.md says",
)

EVENTS_SENT_AS = Counter(
    "polyfhir_outbox_events_sent_total",
    "Change events sent (re-sends included), by wire form: plain JSON, gzip, or claim_check"
    " (too large for the broker even compressed: the indexers read the body from the primary)",
    ["form"],
)

OUTBOX_PRUNED = Counter(
    "polyfhir_outbox_pruned_total",
    "Published outbox rows deleted by the relay after the retention window"
    " (POLYFHIR_OUTBOX_RETENTION_HOURS)",
)


class PrometheusRelayMetrics:
    """The outbox relay's metrics callbacks (polyfhir_bus.relay.RelayMetrics)."""

    def published(self, latencies: Sequence[float]) -> None:
        EVENTS_PUBLISHED.inc(len(latencies))
        for seconds in latencies:
            PUBLISH_LATENCY.observe(seconds)

    def failed(self) -> None:
        RELAY_FAILURES.inc()

    def dead_lettered(self, rows: int) -> None:
        OUTBOX_DEAD_LETTERED.inc(rows)

    def sent_as(self, form: str) -> None:
        EVENTS_SENT_AS.labels(form).inc()

    def backlog(self, rows: int) -> None:
        OUTBOX_BACKLOG.set(rows)

    def pruned(self, rows: int) -> None:
        OUTBOX_PRUNED.inc(rows)
