"""Prometheus metrics of the graph-indexer: the kit's indexer families
(``polyfhir_graph_*``, :mod:`polyfhir_bus.indexing.metrics`)."""

from __future__ import annotations

from polyfhir_bus.indexing.metrics import IndexerMetrics

INDEXER = IndexerMetrics.create("graph", visible_as="walkable")
