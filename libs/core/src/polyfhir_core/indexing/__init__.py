"""Index extraction: resource -> search index rows (FHIRPath over the registry)."""

from polyfhir_core.indexing.extract import extract_index_values
from polyfhir_core.indexing.index_values import IndexValues

__all__ = ["IndexValues", "extract_index_values"]
