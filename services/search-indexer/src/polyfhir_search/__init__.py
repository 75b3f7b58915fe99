"""Search secondary: full-text index fed by change events (OpenSearch / Elasticsearch)."""
