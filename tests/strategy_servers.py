"""Servers under the schema-per-tenant and database-per-tenant strategies (docs/tenancy.md,
"Strategies"), for the test directories that run behaviour tests under them too
(``integration/store``, ``integration/tenancy``): one in-process server per strategy an
engine supports."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from conftest import Server, _inprocess, _services

STRATEGIES = (("postgresql", "schema"), ("postgresql", "database"), ("sqlite", "database"))


def strategy_url(request: pytest.FixtureRequest, backend: str, folder: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{folder}/control.db"
    server = request.getfixturevalue("postgres_server")
    return str(server.create_database(f"strategy_{uuid.uuid4().hex[:10]}"))


async def _strategy_server(
    request: pytest.FixtureRequest,
    tmp: pytest.TempPathFactory,
    backend: str,
    strategy: str,
    topology: str = "inprocess",
) -> AsyncIterator[Server]:
    url = strategy_url(request, backend, tmp.mktemp(f"{backend}-{strategy}"))
    imports = request.getfixturevalue("bulk_import_dir")
    if topology == "services":  # the strategy from the environment, as an operator sets it
        env = {"POLYFHIR_TENANCY_STRATEGY": strategy}
        servers = _services(url, backend, tmp.mktemp("logs"), imports, **env)
    else:
        servers = _inprocess(url, backend, tmp.mktemp("bulk"), imports, tenancy_strategy=strategy)
    async for s in servers:
        s.topology = f"{topology}-{strategy}"
        yield s


@pytest.fixture(scope="session", params=STRATEGIES, ids=lambda p: f"{p[0]}-{p[1]}")
async def strategy_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Server]:
    backend, strategy = request.param
    async for s in _strategy_server(request, tmp_path_factory, backend, strategy):
        yield s
