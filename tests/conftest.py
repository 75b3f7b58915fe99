"""Cross-service test fixtures.

Every API behaviour test runs against four servers: {SQLite, PostgreSQL} x
{one process, gateway + primary-store as separate processes}. Servers start
once per session; each test gets its own tenant, so tests never see each
other's data.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from polyfhir_core.contracts.primary_store import PRIMARY_STORE
from polyfhir_engines.processes import free_port, spawn, stop, wait_http
from polyfhir_servicekit.contract_client import ServiceClients

pytest_plugins = ["polyfhir_testing.pytest_plugin"]

BACKENDS = ("sqlite", "postgresql")
TOPOLOGIES = ("inprocess", "services")


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('sqlite')}/polyfhir.db"


@pytest.fixture(scope="session")
def postgres_url(postgres_server: Any) -> str:
    return str(postgres_server.create_database(f"polyfhir_{uuid.uuid4().hex[:10]}"))


@dataclass
class Server:
    """A running FHIR API: ``client(tenant)`` returns an httpx client on its /fhir base."""

    backend: str
    topology: str
    base_url: str
    store: Any  # the PrimaryStore the gateway uses: in-process service or HTTP client
    transport: httpx.AsyncBaseTransport | None = None

    def client(self, tenant: str | None = None, **headers: str) -> httpx.AsyncClient:
        all_headers = {"accept": "application/fhir+json", **headers}
        if tenant is not None:
            all_headers["X-Tenant-ID"] = tenant
        return httpx.AsyncClient(
            base_url=f"{self.base_url}/fhir",
            transport=self.transport,
            headers=all_headers,
            timeout=30.0,
        )


async def _inprocess(
    url: str, backend: str, bulk_dir: Path, imports: Path, **primary_settings: Any
) -> AsyncIterator[Server]:
    from polyfhir.embedded import embed_terminology
    from polyfhir_gateway.app import create_app
    from polyfhir_gateway.bootstrap import build_pipeline
    from polyfhir_gateway.settings import GatewaySettings
    from polyfhir_primary.bootstrap import bootstrap
    from polyfhir_primary.settings import PrimarySettings

    primary = await bootstrap(PrimarySettings(primary_url=url, **primary_settings))
    settings = GatewaySettings(
        max_body_bytes=256 * 1024,
        max_bundle_entries=200,
        bulk_output_dir=str(bulk_dir),
        bulk_import_dir=str(imports),
    )
    # as `polyfhir run` assembles it: the terminology operations answered in-process
    clients = ServiceClients()
    pipeline = build_pipeline(primary.service, settings, clients)
    terminology = await embed_terminology(pipeline, primary.service, url)
    app = create_app(primary.service, settings, pipeline=pipeline)
    try:
        transport = httpx.ASGITransport(app=app)
        yield Server(backend, "inprocess", "http://testserver", primary.service, transport)
    finally:
        if terminology is not None:
            await terminology.close()
        await clients.close()
        await primary.close()


async def _services(
    url: str, backend: str, logs: Path, imports: Path, **primary_env: str
) -> AsyncIterator[Server]:
    store_port, gw_port = free_port(), free_port()
    bin_dir = Path(sys.executable).parent
    store = spawn(
        [str(bin_dir / "polyfhir-primary-store"), "--port", str(store_port)],
        {"POLYFHIR_PRIMARY_URL": url, **primary_env},
        logs / f"primary-{backend}.log",
    )
    gateway = spawn(
        [str(bin_dir / "polyfhir-gateway"), "--port", str(gw_port)],
        {
            "POLYFHIR_PRIMARY_STORE_URL": f"http://127.0.0.1:{store_port}",
            "POLYFHIR_MAX_BODY_BYTES": str(256 * 1024),
            "POLYFHIR_MAX_BUNDLE_ENTRIES": "200",
            "POLYFHIR_BULK_OUTPUT_DIR": str(logs / "bulk"),
            "POLYFHIR_BULK_IMPORT_DIR": str(imports),
        },
        logs / f"gateway-{backend}.log",
    )
    try:
        wait_http(f"http://127.0.0.1:{store_port}/readyz", store)
        wait_http(f"http://127.0.0.1:{gw_port}/readyz", gateway)
        clients = ServiceClients()
        remote = clients.connect(PRIMARY_STORE, f"http://127.0.0.1:{store_port}")
        yield Server(backend, "services", f"http://127.0.0.1:{gw_port}", remote)
        await clients.close()
    finally:
        stop(gateway)
        stop(store)


@pytest.fixture(scope="session")
def bulk_import_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder every test server's ``$import`` may read ``file://`` inputs from."""
    return tmp_path_factory.mktemp("bulk-imports")


@pytest.fixture(
    scope="session",
    params=[(b, t) for t in TOPOLOGIES for b in BACKENDS],
    ids=lambda p: f"{p[0]}-{p[1]}",
)
async def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Server]:
    backend, topology = request.param
    url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "postgres_url")
    imports = request.getfixturevalue("bulk_import_dir")
    if topology == "inprocess":
        async for s in _inprocess(url, backend, tmp_path_factory.mktemp("bulk"), imports):
            yield s
    else:
        async for s in _services(url, backend, tmp_path_factory.mktemp("logs"), imports):
            yield s


@pytest.fixture
def tenant() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def fhir(server: Server, tenant: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the FHIR API, in a tenant of its own."""
    async with server.client(tenant) as client:
        yield client


@pytest.fixture(scope="session", params=BACKENDS)
async def store_app(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    """The primary store alone, in-process, over each backend (for storage-level tests)."""
    from polyfhir_primary.bootstrap import bootstrap
    from polyfhir_primary.settings import PrimarySettings

    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    app = await bootstrap(PrimarySettings(primary_url=url))
    try:
        yield app
    finally:
        await app.close()


# Longest work first, for `pytest -n 3 --dist loadfile --no-loadscope-reorder` (make test):
# xdist hands out whole files in collection order, so the files whose tests each start
# a whole stack or build environments go first and the many short unit files fill the
# workers' ends, instead of one stack file running alone at the end of the run.
FIRST_DIRECTORIES = ("stack", "deploy")


def _file_rank(item: pytest.Item, tests_in_file: dict[Path, int]) -> tuple[int, int]:
    parts = item.path.relative_to(Path(__file__).parent).parts
    kind = 0 if parts[0] in FIRST_DIRECTORIES else 2 if parts[0] == "unit" else 1
    return kind, -tests_in_file[item.path]


@pytest.hookimpl(trylast=True)  # after pytest has grouped the items by fixture parameters
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tests_in_file: dict[Path, int] = {}
    for item in items:
        tests_in_file[item.path] = tests_in_file.get(item.path, 0) + 1
    items.sort(key=lambda item: _file_rank(item, tests_in_file))  # stable: a file's order kept
