"""Servers as child processes: free ports, readiness polling, clean stops."""

from __future__ import annotations

import fcntl
import os
import random
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

# Below Linux's ephemeral range (32768-60999): a port the kernel hands out for port 0 is
# also what outgoing connections take as their local port, so a server started on it a
# moment later could find it taken (by a client, or by another test worker's pick).
_SERVER_PORTS = range(15000, 32768)
_choose = random.SystemRandom()  # not the seeded module generator: workers must differ
# A port handed out is reserved machine-wide for this long (a marker file per port,
# chosen under one lock): another process (a parallel test worker) picking before the
# server has bound it must not get the same port.
RESERVED_S = 600.0
_RESERVATIONS = Path(tempfile.gettempdir()) / "polyfhir-ports"


def free_port() -> int:
    """A port nobody listens on now, from outside the ephemeral range, not handed out to
    any process on this machine in the last ``RESERVED_S`` seconds."""
    _RESERVATIONS.mkdir(exist_ok=True)
    with open(_RESERVATIONS / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        for _ in range(500):
            port = _choose.choice(_SERVER_PORTS)
            marker = _RESERVATIONS / str(port)
            if _reserved(marker) or not _bindable(port):
                continue
            marker.touch()
            return port
    with socket.socket() as s:  # the range is crowded: let the kernel pick
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _reserved(marker: Path) -> bool:
    try:
        return time.time() - marker.stat().st_mtime < RESERVED_S
    except FileNotFoundError:
        return False


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _tail(proc: subprocess.Popen[bytes]) -> str:
    log = getattr(proc, "log_path", None)
    return log.read_text(errors="replace")[-2000:] if log is not None and log.exists() else ""


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Poll until ``url`` answers 200 (bounded), failing fast if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"server exited with {proc.returncode} before {url} answered: {_tail(proc)}"
            )
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """A child's environment: ours, with ``extra`` on top."""
    return {**os.environ, **extra}


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start a server with its output in ``log`` (read it when a test fails)."""
    with log.open("wb") as handle:
        proc = subprocess.Popen(args, env=child_env(env), stdout=handle, stderr=subprocess.STDOUT)
    proc.log_path = log  # type: ignore[attr-defined]
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


class ChildProcess:
    """What a supervisor reads of any child it started (an engine or a service):
    ``proc`` is the running ``Popen`` or None."""

    proc: subprocess.Popen[bytes] | None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def exit_code(self) -> int | None:
        """How the last process ended (negative: the signal that killed it), if it has."""
        return self.proc.poll() if self.proc is not None else None
