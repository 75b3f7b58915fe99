"""Where a tenant's data goes under schema/database per tenant: names derived safely
from the id, the relay's numbering of many outboxes, and the strategies each engine
refuses."""

from __future__ import annotations

import re

import pytest

from polyfhir_core.tenancy import TenantId
from polyfhir_primary.adapters.sql.tenancy.naming import database_name, file_name, schema_name
from polyfhir_primary.adapters.sql.tenancy.tenant_outbox import by_placement, decode, encode
from polyfhir_primary.bootstrap import ConfigurationError, open_database
from polyfhir_primary.settings import PrimarySettings

IDS = ["acme", "Acme", "acme/research", "acme_research", "acme-research", "a" * 63 + "/" + "b" * 63]


def test_names_are_safe_identifiers_and_never_shared() -> None:
    schemas = [schema_name(TenantId(t)) for t in IDS]
    databases = [database_name("polyfhir", TenantId(t)) for t in IDS]
    files = [file_name(TenantId(t)) for t in IDS]
    for names in (schemas, databases, files):
        assert len(set(names)) == len(IDS)  # case, '/', '_' and '-' never collide
    for name in schemas + databases:
        assert re.fullmatch(r"[a-z0-9_]{1,63}", name), name
    for name in files:
        assert re.fullmatch(r"[a-z0-9_]+\.db", name), name
    assert schema_name(TenantId("acme/research")).startswith("t_acme_research_")
    assert schema_name(TenantId("acme")) == schema_name(TenantId("acme"))  # stable


def test_a_database_name_carries_the_control_database() -> None:
    tenant = TenantId("acme")
    assert database_name("fhir-prod", tenant).startswith("fhir_prod_t_acme_")
    assert database_name("fhir-prod", tenant) != database_name("fhir_test", tenant)


def test_outbox_rows_of_many_databases_are_numbered_apart() -> None:
    seqs = [encode(3, 7), encode(1, 7), encode(3, 2), encode(1, (1 << 40) - 1)]
    assert len(set(seqs)) == 4
    assert [decode(s) for s in seqs] == [(3, 7), (1, 7), (3, 2), (1, (1 << 40) - 1)]
    assert by_placement(seqs) == {1: [7, (1 << 40) - 1], 3: [2, 7]}


async def test_schema_per_tenant_on_sqlite_is_refused_at_startup() -> None:
    settings = PrimarySettings(primary_url="sqlite:///:memory:", tenancy_strategy="schema")
    with pytest.raises(ConfigurationError, match="needs PostgreSQL"):
        await open_database(settings)


async def test_database_per_tenant_on_memory_sqlite_needs_a_directory() -> None:
    settings = PrimarySettings(primary_url="sqlite:///:memory:", tenancy_strategy="database")
    with pytest.raises(ConfigurationError, match="POLYFHIR_TENANT_DIRECTORY"):
        await open_database(settings)
