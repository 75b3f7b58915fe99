"""The terminology-indexer's metric families and settings: names the dashboard, the
deployment files and docs/terminology.md read (unit)."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from polyfhir_terminology import metrics
from polyfhir_terminology.adapters.postgres import PostgresDatabase
from polyfhir_terminology.adapters.sqlite import SqliteDatabase
from polyfhir_terminology.bootstrap import beside_primary, build_database
from polyfhir_terminology.settings import TerminologySettings

pytestmark = pytest.mark.unit


def test_metric_families_are_the_kits_with_the_terminology_prefix() -> None:
    names = {m.name for m in REGISTRY.collect() if m.name.startswith("polyfhir_terminology_")}
    assert {
        "polyfhir_terminology_events",
        "polyfhir_terminology_batch_size",
        "polyfhir_terminology_apply_seconds",
        "polyfhir_terminology_sync_lag_seconds",
        "polyfhir_terminology_applied_position",
        "polyfhir_terminology_consumer_errors",
    } <= names
    assert metrics.INDEXER.events._labelnames == ("outcome",)


def test_settings_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = TerminologySettings()
    assert (defaults.consumer_group, defaults.port) == ("polyfhir-terminology-indexer", 8084)
    assert (defaults.terminology_schema, defaults.terminology_max_expansion) == (
        "terminology",
        10_000,
    )
    monkeypatch.setenv("POLYFHIR_TERMINOLOGY_URL", "postgresql://db/polyfhir")
    monkeypatch.setenv("POLYFHIR_TERMINOLOGY_MAX_EXPANSION", "250")
    configured = TerminologySettings()
    assert configured.terminology_url == "postgresql://db/polyfhir"
    assert configured.terminology_max_expansion == 250


def test_the_store_url_names_its_engine() -> None:
    assert isinstance(build_database("postgresql://db/x"), PostgresDatabase)
    assert isinstance(build_database("sqlite:///:memory:"), SqliteDatabase)
    with pytest.raises(ValueError, match="POLYFHIR_TERMINOLOGY_URL"):
        build_database("mysql://db/x")


@pytest.mark.parametrize(
    ("primary", "terminology"),
    [
        ("sqlite:///./data/polyfhir.db", "sqlite:///./data/polyfhir.terminology.db"),
        ("sqlite:////srv/fhir/main.db", "sqlite:////srv/fhir/main.terminology.db"),
        ("sqlite:///:memory:", "sqlite:///:memory:"),
        ("postgresql://u@db/polyfhir", "postgresql://u@db/polyfhir"),  # its own schema there
    ],
)
def test_the_embedded_store_follows_the_primary(primary: str, terminology: str) -> None:
    assert beside_primary(primary) == terminology
