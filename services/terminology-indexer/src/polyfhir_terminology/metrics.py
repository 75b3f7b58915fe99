"""Prometheus metrics of the terminology-indexer: the kit's indexer families
(``polyfhir_terminology_*``, :mod:`polyfhir_bus.indexing.metrics`)."""

from __future__ import annotations

from polyfhir_bus.indexing.metrics import IndexerMetrics

INDEXER = IndexerMetrics.create("terminology", visible_as="expandable")
