"""The isolation property and the bulk probes again under the other tenancy strategies:
schema per tenant (PostgreSQL) and database per tenant (PostgreSQL database, SQLite file),
in-process servers (``strategy_servers.py``). The shared strategy runs in the sibling
modules over the whole server matrix."""

from __future__ import annotations

import pytest

from conftest import Server
from integration.tenancy.test_tenant_isolation_bulk import (
    test_bulk_export_and_jobs_of_another_tenant_reveal_nothing,
)
from integration.tenancy.test_tenant_isolation_property import (
    test_no_path_from_another_tenant_reveals_anything,
)
from strategy_servers import strategy_server

__all__ = [
    "strategy_server",
    "test_bulk_export_and_jobs_of_another_tenant_reveal_nothing",
    "test_no_path_from_another_tenant_reveals_anything",
]

pytestmark = pytest.mark.integration


@pytest.fixture
def isolated_server(strategy_server: Server) -> Server:
    return strategy_server


@pytest.fixture
def tenancy_strategy(strategy_server: Server) -> str:
    return strategy_server.topology.removeprefix("inprocess-")
