"""Kafka client security (TLS, SASL PLAIN / SCRAM) from ``POLYFHIR_KAFKA_*`` settings.

Every Kafka client of polyfhir — the outbox relay's producer and admin client, each
indexer's FastStream consumer — is built with the same :class:`KafkaSecurity`, taken
from the service's settings (:class:`KafkaSecuritySettings`, a base of the primary
store's and every indexer's settings class). Credentials come from the environment
(in Kubernetes: Secrets); CA and client certificates are files (mounted Secrets).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Any, Literal

from aiokafka.helpers import create_ssl_context
from faststream.security import (
    BaseSecurity,
    SASLPlaintext,
    SASLScram256,
    SASLScram512,
)
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


@dataclass(frozen=True, slots=True)
class KafkaSecurity:
    """How a Kafka client authenticates and encrypts; the default is plaintext."""

    protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    key_password: str | None = field(default=None, repr=False)

    @property
    def uses_tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @property
    def uses_sasl(self) -> bool:
        return self.protocol in ("SASL_PLAINTEXT", "SASL_SSL")

    def ssl_context(self) -> ssl.SSLContext | None:
        """Verifies the broker against ``ca_file`` (else the system's CAs) and its host
        name; presents ``cert_file``/``key_file`` when the broker wants client certificates."""
        if not self.uses_tls:
            return None
        context: ssl.SSLContext = create_ssl_context(
            cafile=self.ca_file,
            certfile=self.cert_file,
            keyfile=self.key_file,
            password=self.key_password,
        )
        return context

    def aiokafka_options(self) -> dict[str, Any]:
        """Keyword arguments for ``AIOKafkaProducer`` / ``AIOKafkaAdminClient``."""
        options: dict[str, Any] = {"security_protocol": self.protocol}
        context = self.ssl_context()
        if context is not None:
            options["ssl_context"] = context
        if self.uses_sasl:
            options["sasl_mechanism"] = self.sasl_mechanism
            options["sasl_plain_username"] = self.username
            options["sasl_plain_password"] = self.password
        return options

    def faststream_security(self) -> BaseSecurity | None:
        """The security object of FastStream's ``KafkaBroker(security=...)``."""
        context = self.ssl_context()
        if not self.uses_sasl:
            return BaseSecurity(ssl_context=context, use_ssl=True) if context else None
        kinds: dict[str, type[SASLPlaintext | SASLScram256 | SASLScram512]] = {
            "PLAIN": SASLPlaintext,
            "SCRAM-SHA-256": SASLScram256,
            "SCRAM-SHA-512": SASLScram512,
        }
        kind = kinds[self.sasl_mechanism or "PLAIN"]
        return kind(
            username=self.username or "",
            password=self.password or "",
            ssl_context=context,
            use_ssl=self.uses_tls,
        )


class KafkaSecuritySettings(BaseSettings):
    """``POLYFHIR_KAFKA_SECURITY_PROTOCOL``, ``_SASL_*``, ``_SSL_*``: the broker's security."""

    model_config = SettingsConfigDict(env_prefix="POLYFHIR_", extra="ignore")

    kafka_security_protocol: SecurityProtocol = Field(
        default="PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"
    )
    kafka_sasl_mechanism: SaslMechanism | None = Field(
        default=None, description="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (SASL_* protocols)"
    )
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_ca_file: str | None = Field(
        default=None, description="PEM CA bundle the broker's certificate is checked against"
    )
    kafka_ssl_cert_file: str | None = Field(default=None, description="client certificate (mTLS)")
    kafka_ssl_key_file: str | None = Field(default=None, description="client key (mTLS)")
    kafka_ssl_key_password: SecretStr | None = None

    @model_validator(mode="after")
    def _complete(self) -> KafkaSecuritySettings:
        sasl = self.kafka_security_protocol.startswith("SASL_")
        if sasl and not (
            self.kafka_sasl_mechanism and self.kafka_sasl_username and self.kafka_sasl_password
        ):
            msg = (
                f"POLYFHIR_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs"
                " POLYFHIR_KAFKA_SASL_MECHANISM, _USERNAME and _PASSWORD"
            )
            raise ValueError(msg)
        if not sasl and self.kafka_sasl_mechanism:
            msg = "POLYFHIR_KAFKA_SASL_MECHANISM needs a SASL_* POLYFHIR_KAFKA_SECURITY_PROTOCOL"
            raise ValueError(msg)
        if bool(self.kafka_ssl_cert_file) != bool(self.kafka_ssl_key_file):
            msg = "POLYFHIR_KAFKA_SSL_CERT_FILE and POLYFHIR_KAFKA_SSL_KEY_FILE go together"
            raise ValueError(msg)
        return self

    def kafka_security(self) -> KafkaSecurity:
        def reveal(secret: SecretStr | None) -> str | None:
            return secret.get_secret_value() if secret is not None else None

        return KafkaSecurity(
            protocol=self.kafka_security_protocol,
            sasl_mechanism=self.kafka_sasl_mechanism,
            username=self.kafka_sasl_username,
            password=reveal(self.kafka_sasl_password),
            ca_file=self.kafka_ssl_ca_file,
            cert_file=self.kafka_ssl_cert_file,
            key_file=self.kafka_ssl_key_file,
            key_password=reveal(self.kafka_ssl_key_password),
        )
