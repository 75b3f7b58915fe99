"""Servers with fair-share limits: {SQLite, PostgreSQL} x {one process, two processes}.

The session's ``server`` fixture runs without limits (every other test would
otherwise share them), so these start their own, configured by
``POLYFHIR_TENANT_LIMITS`` like an operator would. Every tenant gets its own
budget from the default, so tests stay apart by using unique tenants.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import pytest

from conftest import BACKENDS, TOPOLOGIES, Server
from polyfhir_engines.processes import free_port, spawn, stop, wait_http

# A slow refill (one token per 20 s) so a burst is spent deterministically, whatever the
# machine's speed; "roomy" and its subtree have a larger burst (an override), "onejob" one
# running job at a time (and room for polling its status).
LIMITS = {
    "default": {"rate": 0.05, "burst": 6, "max_heavy": 1, "retry_after_s": 2},
    "roomy": {"burst": 40},
    "onejob": {"burst": 2000, "max_jobs": 1},
}
MAX_IN_FLIGHT = 2  # fair queuing on too: every test here also runs through the queue


async def _inprocess(url: str, bulk_dir: Path) -> AsyncIterator[Server]:
    from polyfhir_gateway.app import create_app
    from polyfhir_gateway.settings import GatewaySettings
    from polyfhir_primary.bootstrap import bootstrap
    from polyfhir_primary.settings import PrimarySettings

    primary = await bootstrap(PrimarySettings(primary_url=url))
    settings = GatewaySettings(
        bulk_output_dir=str(bulk_dir),
        tenant_limits=orjson.dumps(LIMITS).decode(),
        max_in_flight=MAX_IN_FLIGHT,
    )
    app = create_app(primary.service, settings)
    try:
        transport = httpx.ASGITransport(app=app)
        yield Server("", "inprocess", "http://testserver", primary.service, transport)
    finally:
        await primary.close()


async def _services(url: str, logs: Path) -> AsyncIterator[Server]:
    store_port, gw_port = free_port(), free_port()
    bin_dir = Path(sys.executable).parent
    store = spawn(
        [str(bin_dir / "polyfhir-primary-store"), "--port", str(store_port)],
        {"POLYFHIR_PRIMARY_URL": url},
        logs / "primary.log",
    )
    gateway = spawn(
        [str(bin_dir / "polyfhir-gateway"), "--port", str(gw_port)],
        {
            "POLYFHIR_PRIMARY_STORE_URL": f"http://127.0.0.1:{store_port}",
            "POLYFHIR_BULK_OUTPUT_DIR": str(logs / "bulk"),
            "POLYFHIR_TENANT_LIMITS": orjson.dumps(LIMITS).decode(),
            "POLYFHIR_MAX_IN_FLIGHT": str(MAX_IN_FLIGHT),
        },
        logs / "gateway.log",
    )
    try:
        wait_http(f"http://127.0.0.1:{store_port}/readyz", store)
        wait_http(f"http://127.0.0.1:{gw_port}/readyz", gateway)
        yield Server("", "services", f"http://127.0.0.1:{gw_port}", None)
    finally:
        stop(gateway)
        stop(store)


@pytest.fixture(
    scope="session",
    params=[(b, t) for t in TOPOLOGIES for b in BACKENDS],
    ids=lambda p: f"{p[0]}-{p[1]}",
)
async def limited_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Server]:
    backend, topology = request.param
    url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "postgres_url")
    if topology == "inprocess":
        servers = _inprocess(url, tmp_path_factory.mktemp("fair-bulk"))
    else:
        servers = _services(url, tmp_path_factory.mktemp("fair-logs"))
    async for server in servers:
        server.backend = backend
        yield server
