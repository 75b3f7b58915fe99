"""The store's behaviour tests also run under the schema-per-tenant and
database-per-tenant strategies (docs/tenancy.md, "Strategies").

``server`` and ``store_app`` here extend the shared fixtures with one in-process
server per strategy an engine supports: PostgreSQL schema per tenant, PostgreSQL
database per tenant, SQLite file per tenant (the two-process topology is the same
code behind HTTP: SQLite file per tenant runs there too, set by the environment as
an operator sets it). ``strategy_server`` is the strategies alone, for test modules
that bring the API's tests over (a subset).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from conftest import BACKENDS, TOPOLOGIES, Server, _inprocess, _services
from strategy_servers import STRATEGIES, _strategy_server, strategy_server, strategy_url

__all__ = [
    "STRATEGIES",
    "_strategy_server",
    "server",
    "store_app",
    "strategy_server",
    "strategy_url",
]


@pytest.fixture(
    scope="session",
    params=[
        *[(b, "shared", t) for t in TOPOLOGIES for b in BACKENDS],
        *[(b, s, "inprocess") for b, s in STRATEGIES],
        ("sqlite", "database", "services"),  # one strategy through the environment
    ],
    ids=lambda p: (
        f"{p[0]}-{p[2]}"
        if p[1] == "shared"
        else f"{p[0]}-{p[1]}" + ("-services" if p[2] == "services" else "")
    ),
)
async def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Server]:
    backend, strategy, topology = request.param
    if strategy != "shared":
        async for s in _strategy_server(request, tmp_path_factory, backend, strategy, topology):
            yield s
        return
    url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "postgres_url")
    imports = request.getfixturevalue("bulk_import_dir")
    if topology == "inprocess":
        async for s in _inprocess(url, backend, tmp_path_factory.mktemp("bulk"), imports):
            yield s
    else:
        async for s in _services(url, backend, tmp_path_factory.mktemp("logs"), imports):
            yield s


@pytest.fixture(
    scope="session",
    params=[*[(b, "shared") for b in BACKENDS], *STRATEGIES],
    ids=lambda p: p[0] if p[1] == "shared" else f"{p[0]}-{p[1]}",
)
async def store_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Any]:
    """The primary store alone, in-process, over each backend and strategy."""
    from polyfhir_primary.bootstrap import bootstrap
    from polyfhir_primary.settings import PrimarySettings

    backend, strategy = request.param
    if strategy == "shared":
        url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "postgres_url")
    else:
        url = strategy_url(request, backend, tmp_path_factory.mktemp(f"app-{strategy}"))
    app = await bootstrap(PrimarySettings(primary_url=url, tenancy_strategy=strategy))
    try:
        yield app
    finally:
        await app.close()
