"""Local engines (embedded PostgreSQL, ...) for tests, benchmarks and local runs."""
