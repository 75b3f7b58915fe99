"""``POLYFHIR_ADMIN_PORT``: ``/admin`` and ``/metrics`` only on the internal port; the
public port serves the FHIR API (and the probes). ``polyfhir run`` as a process."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from polyfhir_engines.processes import free_port, spawn, stop, wait_http

pytestmark = pytest.mark.integration


@pytest.fixture
def split_server(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    public, admin = free_port(), free_port()
    dev_dir = tmp_path / "dev-issuer"
    proc = spawn(
        [str(Path(sys.executable).parent / "polyfhir"), "run", "--port", str(public)],
        {
            "POLYFHIR_PRIMARY_URL": f"sqlite:///{tmp_path}/split.db",
            "POLYFHIR_AUTH": "dev",
            "POLYFHIR_AUTH_DEV_DIR": str(dev_dir),
            "POLYFHIR_ADMIN_PORT": str(admin),
        },
        tmp_path / "server.log",
    )
    try:
        wait_http(f"http://127.0.0.1:{public}/readyz", proc)
        yield f"http://127.0.0.1:{public}", f"http://127.0.0.1:{admin}", dev_dir
    finally:
        stop(proc)


def test_admin_and_metrics_only_on_the_admin_port(split_server: tuple[str, str, Path]) -> None:
    from polyfhir_gateway.security.dev_issuer import DevIssuer

    public, admin, dev_dir = split_server
    issuer = DevIssuer(dev_dir)
    operator = {"Authorization": f"Bearer {issuer.mint(tenant='ops', scope='system/admin')}"}
    with httpx.Client(timeout=30.0) as client:
        assert client.get(f"{public}/metrics").status_code == 404
        assert client.post(f"{public}/admin/reindex", json={}, headers=operator).status_code == 404
        assert client.get(f"{public}/fhir/metadata").status_code == 200
        assert client.get(f"{admin}/metrics").status_code == 200
        assert client.post(f"{admin}/admin/reindex", json={}).status_code == 401
        assert client.post(f"{admin}/admin/reindex", json={}, headers=operator).status_code == 202
        assert client.get(f"{admin}/fhir/metadata").status_code == 404
        assert client.get(f"{admin}/readyz").status_code == 200
