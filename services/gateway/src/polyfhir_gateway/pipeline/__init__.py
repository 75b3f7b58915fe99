"""The gateway's query pipeline: executor, health monitor, SyncMode write waits, metrics."""

from polyfhir_gateway.pipeline.executor import Fallback, QueryPipeline, SearchResult
from polyfhir_gateway.pipeline.health import HealthMonitor
from polyfhir_gateway.pipeline.sync import WriteSync, with_warnings, written_version

__all__ = [
    "Fallback",
    "HealthMonitor",
    "QueryPipeline",
    "SearchResult",
    "WriteSync",
    "with_warnings",
    "written_version",
]
