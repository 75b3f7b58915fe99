"""The tenancy strategies the isolation tests run under.

Here: ``shared`` (a tenant column in every statement), served by the session's
``server`` fixture (both engines, both topologies). The schema- and
database-per-tenant strategies run the same tests in
``test_tenant_isolation_strategies.py`` over ``strategy_servers.strategy_server``.
"""

from __future__ import annotations

import pytest

from conftest import Server

STRATEGY_SERVERS: dict[str, str] = {"shared": "server"}


@pytest.fixture(params=sorted(STRATEGY_SERVERS))
def tenancy_strategy(request: pytest.FixtureRequest) -> str:
    strategy: str = request.param
    return strategy


@pytest.fixture
def isolated_server(
    request: pytest.FixtureRequest, server: Server, tenancy_strategy: str
) -> Server:
    """A running API under ``tenancy_strategy``: ``server``'s matrix (both engines, both
    topologies) for ``shared``, the strategy's own fixture for the others."""
    name = STRATEGY_SERVERS[tenancy_strategy]
    if name == "server":
        return server
    strategy_server: Server = request.getfixturevalue(name)
    return strategy_server
