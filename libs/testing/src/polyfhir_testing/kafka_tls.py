"""A TLS Kafka broker for tests: Tansu behind stunnel, with throwaway certificates.

``KafkaTlsSetup.create(directory, mutual=...)`` makes a CA, a server certificate for
127.0.0.1/localhost, a client certificate (signed by the same CA) and a second,
unrelated CA (what a misconfigured client trusts), and the
:class:`~polyfhir_engines.kafka_tls.LocalKafkaTls` that serves with them; with
``mutual`` stunnel demands a client certificate of that CA (``verify = 2``).
:meth:`KafkaTlsSetup.settings` gives the ``POLYFHIR_KAFKA_*`` settings of a client.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from polyfhir_engines.kafka_tls import LocalKafkaTls
from polyfhir_engines.stunnel import MISSING_REASON, TlsIdentity, stunnel_binary
from polyfhir_testing.tls import CertFiles, CertificateAuthority

__all__ = ["MISSING_REASON", "KafkaTlsSetup", "stunnel_available"]


def stunnel_available() -> bool:
    return stunnel_binary() is not None


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
