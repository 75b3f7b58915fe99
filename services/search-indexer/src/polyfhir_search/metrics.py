"""Prometheus metrics of the search-indexer: the kit's indexer families
(``polyfhir_search_*``, :mod:`polyfhir_bus.indexing.metrics`) and its own."""

from __future__ import annotations

from prometheus_client import Counter

from polyfhir_bus.indexing.metrics import IndexerMetrics

INDEXER = IndexerMetrics.create("search", visible_as="searchable")
POSITION_GAPS = Counter(
    "polyfhir_search_position_gaps_total",
    "Batches whose positions jumped past the next expected one (events lost on the way)",
)
INDEX_NOT_FRESH = Counter(
    "polyfhir_search_not_fresh_refusals_total",
    "Searches refused because the index cannot prove it is complete",
)
