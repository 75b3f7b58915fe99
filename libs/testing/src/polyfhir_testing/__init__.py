"""Launchers for local engines (embedded PostgreSQL, ...) used by tests, benchmarks and local runs."""
