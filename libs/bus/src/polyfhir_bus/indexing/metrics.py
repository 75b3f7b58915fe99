"""The Prometheus families of an indexer, ``polyfhir_<name>_*``.

Each indexer builds its families once, at import of its own ``metrics``
module (prometheus_client registers them globally). The names and labels are
part of the deployment contract (Grafana dashboard, ``tests/deploy``).
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import Counter, Gauge, Histogram

BATCH_SIZE_BUCKETS = (1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500)
APPLY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
LAG_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


@dataclass(frozen=True)
class IndexerMetrics:
    events: Counter  # by outcome: applied | stale | rejected | dead_lettered
    batch_size: Histogram
    apply_seconds: Histogram
    sync_lag_seconds: Histogram
    applied_position: Gauge  # by partition
    consumer_errors: Counter  # by error type
    apply_retries: Counter  # engine writes attempted again (retry settings)
    engine_write_seconds: Histogram  # the engine call alone (retries included)
    pipeline_lag_seconds: Histogram  # commit (lastUpdated) -> the engine call starts

    @classmethod
    def create(cls, name: str, *, visible_as: str) -> IndexerMetrics:
        """``name``: ``search`` gives ``polyfhir_search_events_total`` and so on;
        ``visible_as``: what an applied version becomes (``searchable``)."""
        prefix = f"polyfhir_{name}"
        return cls(
            events=Counter(
                f"{prefix}_events_total",
                f"Change events handled by the {name} indexer, by outcome",
                ["outcome"],
            ),
            batch_size=Histogram(
                f"{prefix}_batch_size", "Records per applied batch", buckets=BATCH_SIZE_BUCKETS
            ),
            apply_seconds=Histogram(
                f"{prefix}_apply_seconds",
                f"Time to apply one batch to the {name} engine",
                buckets=APPLY_BUCKETS,
            ),
            sync_lag_seconds=Histogram(
                f"{prefix}_sync_lag_seconds",
                f"From an event's lastUpdated to its version being {visible_as}",
                buckets=LAG_BUCKETS,
            ),
            applied_position=Gauge(
                f"{prefix}_applied_position",
                "Highest event position applied, per partition",
                ["partition"],
            ),
            consumer_errors=Counter(
                f"{prefix}_consumer_errors_total",
                "Batches that failed and will be retried, and commits given up, by error type",
                ["error"],
            ),
            apply_retries=Counter(
                f"{prefix}_apply_retries_total",
                f"Writes to the {name} engine attempted again after a failure",
            ),
            engine_write_seconds=Histogram(
                f"{prefix}_engine_write_seconds",
                f"Time the {name} engine takes to write one batch (the engine call alone)",
                buckets=APPLY_BUCKETS,
            ),
            pipeline_lag_seconds=Histogram(
                f"{prefix}_pipeline_lag_seconds",
                "From an event's lastUpdated (commit) to the engine call that writes it: "
                "outbox, relay, broker, consumer, extraction",
                buckets=LAG_BUCKETS,
            ),
        )

    def count_consumer_error(self, exc: BaseException) -> None:
        self.consumer_errors.labels(type(exc).__name__).inc()

    def count_dead_letter(self, _reason: str) -> None:
        self.events.labels("dead_lettered").inc()
