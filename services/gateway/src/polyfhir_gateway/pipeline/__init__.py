"""The gateway's query pipeline: executor, health monitor, SyncMode write waits, metrics."""

from polyfhir_gateway.pipeline.consistency import WriteSync, with_warnings, written_version
from polyfhir_gateway.pipeline.fallback import Fallback
from polyfhir_gateway.pipeline.health import HealthMonitor
from polyfhir_gateway.pipeline.query_pipeline import QueryPipeline, SearchResult

__all__ = [
    "Fallback",
    "HealthMonitor",
    "QueryPipeline",
    "SearchResult",
    "WriteSync",
    "with_warnings",
    "written_version",
]
