"""Servers with tokens on (``POLYFHIR_AUTH=jwks``), over the same matrix as ``server``:
{SQLite, PostgreSQL} x {one process, gateway + primary-store processes}.

The issuer is the test's own: keys it generates, a JWKS it serves from a local
HTTP server it starts (so a test can rotate keys), tokens it signs. The
``server`` fixture is overridden here, so tests written for ``server`` (the
tenancy tests) run unchanged with tokens on: ``client(tenant)`` sends a token
for that tenant instead of the header.
"""

from __future__ import annotations

import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from polyfhir_core.contracts.primary_store import PRIMARY_STORE
from polyfhir_engines.processes import free_port, spawn, stop, wait_http
from polyfhir_servicekit.contract_client import ServiceClients

ISSUER = "https://issuer.test.example"
AUDIENCE = "https://fhir.test.example/fhir"
BACKENDS = ("sqlite", "postgresql")
TOPOLOGIES = ("inprocess", "services")


@dataclass
class Issuer:
    """The test's authorization server: signing keys by kid and the JWKS it publishes."""

    keys: dict[str, Any] = field(default_factory=dict)
    published: list[str] = field(default_factory=list)
    current: str = ""

    def add_key(self, kind: str = "RS256", publish: bool = True) -> str:
        kid = f"k{uuid.uuid4().hex[:8]}"
        self.keys[kid] = (
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
            if kind == "RS256"
            else ec.generate_private_key(ec.SECP256R1())
        )
        if publish:
            self.published.append(kid)
        self.current = kid
        return kid

    def jwks(self) -> dict[str, Any]:
        out = []
        for kid in self.published:
            key = self.keys[kid]
            if isinstance(key, rsa.RSAPrivateKey):
                jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
                jwk["alg"] = "RS256"
            else:
                jwk = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
                jwk["alg"] = "ES256"
            out.append({**jwk, "kid": kid, "use": "sig"})
        return {"keys": out}

    def token(
        self,
        tenant: str | None,
        scope: str,
        /,
        *,
        patient: str | None = None,
        kid: str | None = None,
        expires_in: int = 600,
        **overrides: Any,
    ) -> str:
        kid = kid or self.current
        key = self.keys[kid]
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "user-1",
            "client_id": "test-app",
            "tenant": tenant,
            "scope": scope,
            "iat": now,
            "exp": now + expires_in,
        }
        if patient:
            claims["patient"] = patient
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        alg = "RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256"
        return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid})


@pytest.fixture(scope="session")
def issuer() -> Iterator[tuple[Issuer, str]]:
    """The issuer and the URL of its JWKS, served by a local HTTP server."""
    state = Issuer()
    state.add_key("RS256")

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = orjson.dumps(state.jwks())
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    http = ThreadingHTTPServer(("127.0.0.1", free_port()), Jwks)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{http.server_address[1]}/jwks.json"
    finally:
        http.shutdown()
        http.server_close()


@dataclass
class SecureServer:
    """A running FHIR API with tokens on; ``client(tenant)`` authenticates as a full-access
    caller of that tenant (``system/*.cruds``), ``client(token=...)`` with any token."""

    backend: str
    topology: str
    base_url: str
    store: Any
    issuer: Issuer
    transport: httpx.AsyncBaseTransport | None = None

    def client(
        self, tenant: str | None = None, *, token: str | None = None, **headers: str
    ) -> httpx.AsyncClient:
        all_headers = {"accept": "application/fhir+json", **headers}
        if token is None and tenant is not None:
            token = self.issuer.token(tenant, "system/*.cruds")
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        return httpx.AsyncClient(
            base_url=f"{self.base_url}/fhir",
            transport=self.transport,
            headers=all_headers,
            timeout=30.0,
        )

    def root(self, token: str | None = None) -> httpx.AsyncClient:
        """A client of the server's root (``/admin``)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(
            base_url=self.base_url, transport=self.transport, headers=headers, timeout=30.0
        )


def _auth_env(jwks_url: str) -> dict[str, str]:
    return {
        "POLYFHIR_AUTH": "jwks",
        "POLYFHIR_AUTH_ISSUER": ISSUER,
        "POLYFHIR_AUTH_AUDIENCE": AUDIENCE,
        "POLYFHIR_AUTH_JWKS_URL": jwks_url,
        "POLYFHIR_MAX_BUNDLE_ENTRIES": "200",
    }


async def _inprocess(url: str, backend: str, issuer: Issuer, jwks: str) -> AsyncIterator[Any]:
    from polyfhir_gateway.app import create_app
    from polyfhir_gateway.settings import GatewaySettings
    from polyfhir_primary.bootstrap import bootstrap
    from polyfhir_primary.settings import PrimarySettings

    primary = await bootstrap(PrimarySettings(primary_url=url))
    settings = GatewaySettings(
        auth="jwks",
        auth_issuer=ISSUER,
        auth_audience=AUDIENCE,
        auth_jwks_url=jwks,
        max_bundle_entries=200,
    )
    app = create_app(primary.service, settings)
    try:
        transport = httpx.ASGITransport(app=app)
        yield SecureServer(
            backend, "inprocess", "http://testserver", primary.service, issuer, transport
        )
    finally:
        await primary.close()


async def _services(
    url: str, backend: str, logs: Path, issuer: Issuer, jwks: str
) -> AsyncIterator[Any]:
    store_port, gw_port = free_port(), free_port()
    bin_dir = Path(sys.executable).parent
    store = spawn(
        [str(bin_dir / "polyfhir-primary-store"), "--port", str(store_port)],
        {"POLYFHIR_PRIMARY_URL": url},
        logs / f"primary-{backend}.log",
    )
    gateway = spawn(
        [str(bin_dir / "polyfhir-gateway"), "--port", str(gw_port)],
        {"POLYFHIR_PRIMARY_STORE_URL": f"http://127.0.0.1:{store_port}", **_auth_env(jwks)},
        logs / f"gateway-{backend}.log",
    )
    try:
        wait_http(f"http://127.0.0.1:{store_port}/readyz", store)
        wait_http(f"http://127.0.0.1:{gw_port}/readyz", gateway)
        clients = ServiceClients()
        remote = clients.connect(PRIMARY_STORE, f"http://127.0.0.1:{store_port}")
        yield SecureServer(backend, "services", f"http://127.0.0.1:{gw_port}", remote, issuer)
        await clients.close()
    finally:
        stop(gateway)
        stop(store)


@pytest.fixture(
    scope="session",
    params=[(b, t) for t in TOPOLOGIES for b in BACKENDS],
    ids=lambda p: f"{p[0]}-{p[1]}-tokens",
)
async def server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    issuer: tuple[Issuer, str],
) -> AsyncIterator[SecureServer]:
    backend, topology = request.param
    state, jwks = issuer
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('secure-sqlite')}/polyfhir.db"
    else:
        pg = request.getfixturevalue("postgres_server")
        url = str(pg.create_database(f"secure_{uuid.uuid4().hex[:10]}"))
    if topology == "inprocess":
        async for s in _inprocess(url, backend, state, jwks):
            yield s
    else:
        async for s in _services(url, backend, tmp_path_factory.mktemp("logs"), state, jwks):
            yield s
