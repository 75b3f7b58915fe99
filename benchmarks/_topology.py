"""The servers of ``mix.py`` as child processes, and the CPU each process tree spends.

Two topologies over one database: ``run`` (``polyfhir run``: gateway and primary
store in one process) and ``services`` (``polyfhir-primary-store`` and
``polyfhir-gateway`` as two processes talking over the internal contract). The
database server (embedded PostgreSQL: the postmaster and its backends) is a
process tree of its own; SQLite runs inside the store.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from polyfhir_engines.postgres import LocalPostgres
from polyfhir_engines.processes import free_port, spawn, stop, wait_http
from polyfhir_testing.postgres import postgres_from_env

BIN = Path(sys.executable).parent


@dataclass
class Database:
    url: str
    server_pid: int | None  # the postmaster (None: SQLite, or a server by DSN)


@dataclass
class Deployment:
    """A running FHIR API: its base URL and the root pid of each process tree by role."""

    base: str
    roles: dict[str, int] = field(default_factory=dict)


@contextmanager
def database(backend: str, pg_settings: dict[str, str] | None = None) -> Iterator[Database]:
    """A fresh database: a SQLite file, or embedded PostgreSQL (``POLYFHIR_TEST_PG_DSN``
    for a server by DSN, whose CPU is then not counted) configured with ``pg_settings``.
    The files go afterwards, unless ``POLYFHIR_BENCH_KEEP`` is set (to look at the
    plans of a large database after the run)."""
    workdir = Path(tempfile.mkdtemp(prefix="polyfhir-mix-"))
    try:
        if backend == "sqlite":
            yield Database(f"sqlite:///{workdir}/mix.db", None)
            return
        server = postgres_from_env(workdir / "pg")
        if pg_settings and isinstance(server, LocalPostgres):
            server.configure(pg_settings)
        try:
            pid = server.pid if isinstance(server, LocalPostgres) else None
            yield Database(server.create_database(f"mix_{uuid.uuid4().hex[:8]}"), pid)
        finally:
            server.stop()
    finally:
        if os.environ.get("POLYFHIR_BENCH_KEEP"):
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def deployment(
    topology: str, db: Database, env: dict[str, str], bin_dir: Path = BIN
) -> Iterator[Deployment]:
    """``polyfhir run`` or primary-store + gateway on free ports, with ``env`` on top
    (``POLYFHIR_WORKERS``, ...); every process is stopped on the way out. ``bin_dir``:
    whose executables (another checkout's venv, to compare trees)."""
    logs = Path(tempfile.mkdtemp(prefix="polyfhir-mix-logs-"))
    common = {"POLYFHIR_LOG_LEVEL": "WARNING", **env}
    with ExitStack() as stack:
        roles: dict[str, int] = {}
        if topology == "run":
            port = free_port()
            server = spawn(
                [str(bin_dir / "polyfhir"), "run", "--host", "127.0.0.1", "--port", str(port)],
                {**common, "POLYFHIR_PRIMARY_URL": db.url},
                logs / "run.log",
            )
            stack.callback(stop, server)
            wait_http(f"http://127.0.0.1:{port}/readyz", server)
            roles["server"] = server.pid
        else:
            store_port, port = free_port(), free_port()
            store = spawn(
                [str(bin_dir / "polyfhir-primary-store"), "--port", str(store_port)],
                {**common, "POLYFHIR_PRIMARY_URL": db.url},
                logs / "primary-store.log",
            )
            stack.callback(stop, store)
            wait_http(f"http://127.0.0.1:{store_port}/readyz", store)
            gateway = spawn(
                [str(bin_dir / "polyfhir-gateway"), "--host", "127.0.0.1", "--port", str(port)],
                {**common, "POLYFHIR_PRIMARY_STORE_URL": f"http://127.0.0.1:{store_port}"},
                logs / "gateway.log",
            )
            stack.callback(stop, gateway)
            wait_http(f"http://127.0.0.1:{port}/readyz", gateway)
            roles |= {"gateway": gateway.pid, "store": store.pid}
        if db.server_pid is not None:
            roles["database"] = db.server_pid
        roles["client"] = os.getpid()
        yield Deployment(f"http://127.0.0.1:{port}/fhir", roles)
    shutil.rmtree(logs, ignore_errors=True)


def _tree_seconds(pid: int, *, children: bool) -> float:
    """user + system CPU seconds of ``pid`` and (``children``) its live descendants."""
    try:
        root = psutil.Process(pid)
        procs = [root, *(root.children(recursive=True) if children else [])]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def cpu_seconds(roles: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far per role: each server with its workers, the database with its
    backends; the client (this process) without the servers it started."""
    return {role: _tree_seconds(pid, children=role != "client") for role, pid in roles.items()}
