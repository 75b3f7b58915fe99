"""Prometheus metrics of the primary store."""

from __future__ import annotations

from prometheus_client import Gauge, Histogram

STORAGE_LATENCY = Histogram(
    "polyfhir_storage_operation_seconds",
    "Latency of primary-store operations",
    ["operation"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
OUTBOX_BACKLOG = Gauge("polyfhir_outbox_backlog", "Outbox rows not yet published")
