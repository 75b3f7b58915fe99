"""The tenancy strategies the isolation tests run under.

Today polyfhir has one strategy, ``shared`` (a tenant column in every statement),
served by the session's ``server`` fixture. A strategy added later (``schema``,
``database``) adds its name and the fixture that starts servers with it to
:data:`STRATEGY_SERVERS`; every test here then runs under it too.
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
