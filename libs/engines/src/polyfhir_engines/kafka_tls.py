"""A local Kafka broker behind TLS: Tansu advertising the port of a stunnel in front of it.

Clients bootstrap through the TLS port and, because Tansu advertises that port in its
metadata, every later connection (to the partition leader, the group coordinator)
goes through TLS too. Tansu's own plain port stays on 127.0.0.1 only.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Self

from polyfhir_engines.processes import free_port
from polyfhir_engines.stunnel import TlsIdentity, TlsTerminator
from polyfhir_engines.tansu import LocalKafka


class LocalKafkaTls:
    """Tansu + stunnel; ``bootstrap`` is the TLS address (``127.0.0.1:<tls port>``)."""

    def __init__(self, identity: TlsIdentity, work_dir: Path) -> None:
        tls_port = free_port()
        self.broker = LocalKafka(log_dir=work_dir, advertised_port=tls_port)
        self.terminator = TlsTerminator(self.broker.port, identity, work_dir, port=tls_port)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.terminator.port}"

    @property
    def plain_bootstrap(self) -> str:
        """Tansu's own port, without TLS (a client there is told to use the TLS port)."""
        return self.broker.bootstrap

    def start(self) -> Self:
        self.broker.start()
        try:
            self.terminator.start()
        except BaseException:
            self.broker.stop()
            raise
        return self

    def stop(self) -> None:
        try:
            self.terminator.stop()
        finally:
            self.broker.stop()

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
