"""A representative subset of the API's behaviour tests, run again under schema per
tenant and database per tenant (``strategy_server``: in-process, each engine that
supports the strategy): search (basic, references with chains/_has/includes, full
text, terminology and its operations), history, the tenancy tests and the tenant
lifecycle (provision, list, delete: the schema, database or file is dropped). The rest of the API suite runs
under the shared strategy only: what differs between strategies is where a session's
statements go, which these cover (docs/tenancy.md, "Tests")."""

from __future__ import annotations

from importlib import import_module

import pytest

from conftest import Server

pytestmark = pytest.mark.integration

SUBSET = (
    "integration.api.test_search_basic",
    "integration.api.test_search_references",
    "integration.api.test_search_fulltext",
    "integration.api.test_search_terminology",
    "integration.api.test_history",
    "integration.api.test_tenancy",
    "integration.api.test_tenant_lifecycle",
    "integration.api.test_terminology_operations",
)
FIXTURES = ("two_tenants", "admin")  # module fixtures of the subset, brought along with its tests
for _name in SUBSET:
    for _test, _function in vars(import_module(_name)).items():
        if (_test.startswith("test_") or _test in FIXTURES) and callable(_function):
            globals()[_test] = _function


@pytest.fixture(scope="session")
def server(strategy_server: Server) -> Server:
    """The API tests above ask for ``server`` (directly or through ``fhir``)."""
    return strategy_server
