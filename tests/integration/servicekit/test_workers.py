"""``POLYFHIR_WORKERS``: ``polyfhir run`` and ``polyfhir-primary-store`` served by several
processes sharing one port, over SQLite and PostgreSQL (fresh databases: the schema
migrations run once, before the workers fork, so their first start does not race).

What an operator sees: the supervisor has that many worker processes, every write is
visible through any connection (whichever worker takes it), SIGTERM stops them all,
and a worker that dies takes the others down with it (exit code not 0), so a process
manager restarts a whole server rather than keep a half one.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from tests.support import until

from polyfhir_engines.processes import free_port, spawn, stop, wait_http

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/workers.db"
    server: Any = request.getfixturevalue("postgres_server")
    return str(server.create_database(f"workers_{uuid.uuid4().hex[:10]}"))


def _started(args: list[str], url: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = spawn(
        [*args, "--host", "127.0.0.1", "--port", str(port)],
        {"POLYFHIR_PRIMARY_URL": url, "POLYFHIR_WORKERS": "2", "POLYFHIR_LOG_LEVEL": "WARNING"},
        log,
    )
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/readyz", proc)
    return proc, base


@pytest.fixture
def server(fresh_url: str, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    proc, base = _started([str(BIN / "polyfhir"), "run"], fresh_url, tmp_path / "run.log")
    try:
        yield proc, base
    finally:
        if proc.poll() is None:
            stop(proc)


def _workers(proc: subprocess.Popen[bytes]) -> list[psutil.Process]:
    children: list[psutil.Process] = psutil.Process(proc.pid).children()
    return children


def test_two_workers_serve_one_port_and_share_every_write(
    server: tuple[subprocess.Popen[bytes], str],
) -> None:
    proc, base = server
    assert len(_workers(proc)) == 2
    tenant = f"t{uuid.uuid4().hex[:12]}"
    headers = {"X-Tenant-ID": tenant, "Content-Type": "application/fhir+json"}
    ids = []
    for n in range(12):  # a new connection each: the kernel hands them to either worker
        created = httpx.post(
            f"{base}/fhir/Patient",
            headers=headers,
            json={"resourceType": "Patient", "name": [{"family": f"Worker{n}"}]},
        )
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    for rid in ids:
        assert httpx.get(f"{base}/fhir/Patient/{rid}", headers=headers).status_code == 200
    found = httpx.get(f"{base}/fhir/Patient", headers=headers, params={"_summary": "count"})
    assert found.json()["total"] == 12


def _listening(worker: psutil.Process, port: int) -> bool:
    return any(
        c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port
        for c in worker.net_connections(kind="tcp")
    )


def _accepted(worker: psutil.Process, port: int) -> int:
    """Connections to ``port`` this worker has accepted (they are its file descriptors)."""
    return sum(
        1
        for c in worker.net_connections(kind="tcp")
        if c.status == psutil.CONN_ESTABLISHED and c.laddr and c.laddr.port == port
    )


def test_connections_opened_together_are_spread_over_the_workers(
    server: tuple[subprocess.Popen[bytes], str],
) -> None:
    """Clients that open their keep-alive connections at once (a connection pool, a
    benchmark's clients) get both workers, not whichever woke first."""
    proc, base = server
    port = int(base.rsplit(":", 1)[1])
    workers = _workers(proc)

    def every_worker_listens() -> bool | None:  # /readyz answered: one of them, at least
        return True if all(_listening(w, port) for w in workers) else None

    until(every_worker_listens, what="both workers listening")
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(16)]
    try:

        def all_accepted() -> list[int] | None:
            counts = [_accepted(w, port) for w in workers]
            return counts if sum(counts) == len(clients) else None

        counts = until(all_accepted, what="every connection accepted")
        assert min(counts) >= 1, f"one worker took every connection: {counts}"
    finally:
        for sock in clients:
            sock.close()


def test_sigterm_stops_the_supervisor_and_every_worker(
    server: tuple[subprocess.Popen[bytes], str],
) -> None:
    proc, _ = server
    workers = _workers(proc)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    _, alive = psutil.wait_procs(workers, timeout=10)
    assert not alive


def test_a_worker_that_dies_stops_the_server(
    server: tuple[subprocess.Popen[bytes], str],
) -> None:
    proc, _ = server
    first, second = _workers(proc)
    first.kill()
    assert proc.wait(timeout=30) != 0
    _, alive = psutil.wait_procs([second], timeout=10)
    assert not alive


def test_the_primary_store_serves_with_workers(fresh_url: str, tmp_path: Path) -> None:
    proc, base = _started(
        [str(BIN / "polyfhir-primary-store")], fresh_url, tmp_path / "primary.log"
    )
    try:
        assert len(_workers(proc)) == 2
        for _ in range(6):
            assert httpx.get(f"{base}/readyz").status_code == 200
    finally:
        stop(proc)
