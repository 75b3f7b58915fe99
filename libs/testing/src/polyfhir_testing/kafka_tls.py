"""A TLS Kafka broker for tests: Tansu behind stunnel, with throwaway certificates.

:class:`LocalKafkaTls`: Tansu advertising the port of a stunnel in front of it, so
clients bootstrap through TLS and every later connection (to the partition leader,
the group coordinator) goes through TLS too; Tansu's own plain port stays on
127.0.0.1.

``KafkaTlsSetup.create(directory, mutual=...)`` makes a CA, a server certificate for
127.0.0.1/localhost, a client certificate (signed by the same CA) and a second,
unrelated CA (what a misconfigured client trusts), and the :class:`LocalKafkaTls`
that serves with them; with ``mutual`` stunnel demands a client certificate of that
CA (``verify = 2``).
:meth:`KafkaTlsSetup.settings` gives the ``POLYFHIR_KAFKA_*`` settings of a client.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from polyfhir_engines.processes import free_port
from polyfhir_engines.tansu import LocalKafka
from polyfhir_testing.stunnel import MISSING_REASON, TlsIdentity, TlsTerminator, stunnel_binary
from polyfhir_testing.tls import CertFiles, CertificateAuthority

__all__ = ["MISSING_REASON", "KafkaTlsSetup", "LocalKafkaTls", "stunnel_available"]


def stunnel_available() -> bool:
    return stunnel_binary() is not None


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


@dataclass(frozen=True, slots=True)
class KafkaTlsSetup:
    kafka: LocalKafkaTls
    ca: CertificateAuthority
    client: CertFiles
    wrong_ca: CertificateAuthority

    @classmethod
    def create(cls, directory: Path, *, mutual: bool) -> KafkaTlsSetup:
        ca = CertificateAuthority.create(directory / "pki", "kafka test CA")
        wrong_ca = CertificateAuthority.create(directory / "pki-other", "unrelated CA")
        server = ca.issue_server("broker")
        identity = TlsIdentity(server.cert, server.key, ca.cert_file if mutual else None)
        kafka = LocalKafkaTls(identity, directory)
        return cls(kafka, ca, ca.issue_client("client"), wrong_ca)

    @property
    def bootstrap(self) -> str:
        return self.kafka.bootstrap

    def settings(
        self, *, ca: CertificateAuthority | None = None, client_cert: bool = False
    ) -> dict[str, str]:
        """``kafka_*`` settings of a client over SSL, trusting ``ca`` (default: the
        broker's CA), presenting the client certificate when ``client_cert``."""
        settings = {
            "kafka_security_protocol": "SSL",
            "kafka_ssl_ca_file": str((ca or self.ca).cert_file),
        }
        if client_cert:
            settings["kafka_ssl_cert_file"] = str(self.client.cert)
            settings["kafka_ssl_key_file"] = str(self.client.key)
        return settings
