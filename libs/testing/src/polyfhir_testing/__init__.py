"""Test tooling: pytest fixtures for the local engines, PostgreSQL by DSN, datasets.

The launchers themselves are a runtime part of polyfhir: ``polyfhir_engines``."""
