"""POLYFHIR_KAFKA_* security settings become the Kafka clients' security objects.

Against a real broker: TLS and mutual TLS in ``tests/integration/bus/test_kafka_tls.py``
and ``test_kafka_mtls.py`` (stunnel in front of Tansu); SASL in
``tests/deploy/test_compose_kafka_sasl.py`` (apache/kafka, where Docker runs), since
Tansu creates SCRAM users only through an authenticated connection and offers no PLAIN.
"""

from __future__ import annotations

import functools
import ssl
from pathlib import Path

import pytest
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512
from pydantic import ValidationError

from polyfhir_bus.consumer import Batch, BatchConsumer, Rejection
from polyfhir_bus.indexing.settings import IndexerSettings
from polyfhir_bus.kafka import create_producer
from polyfhir_bus.security import KafkaSecurity, KafkaSecuritySettings
from polyfhir_primary.settings import PrimarySettings
from polyfhir_testing.tls import CertificateAuthority


def _ca(tmp_path: Path) -> Path:
    """A self-signed CA certificate as a PEM file (what a mounted Secret holds)."""
    return CertificateAuthority.create(tmp_path).cert_file


def test_plaintext_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    security = KafkaSecuritySettings().kafka_security()
    assert security.aiokafka_options() == {"security_protocol": "PLAINTEXT"}
    assert security.faststream_security() is None


@pytest.mark.parametrize(
    ("mechanism", "kind"),
    [("PLAIN", SASLPlaintext), ("SCRAM-SHA-256", SASLScram256), ("SCRAM-SHA-512", SASLScram512)],
)
def test_sasl_over_tls_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, mechanism: str, kind: type[BaseSecurity]
) -> None:
    ca = _ca(tmp_path)
    monkeypatch.setenv("POLYFHIR_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("POLYFHIR_KAFKA_SASL_MECHANISM", mechanism)
    monkeypatch.setenv("POLYFHIR_KAFKA_SASL_USERNAME", "relay")
    monkeypatch.setenv("POLYFHIR_KAFKA_SASL_PASSWORD", "s3cret")
    monkeypatch.setenv("POLYFHIR_KAFKA_SSL_CA_FILE", str(ca))
    for settings in (KafkaSecuritySettings(), PrimarySettings()):
        security = settings.kafka_security()
        options = security.aiokafka_options()
        assert options["security_protocol"] == "SASL_SSL"
        assert options["sasl_mechanism"] == mechanism
        assert (options["sasl_plain_username"], options["sasl_plain_password"]) == (
            "relay",
            "s3cret",
        )
        context = options["ssl_context"]
        assert isinstance(context, ssl.SSLContext)
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
        assert [c["subject"] for c in context.get_ca_certs()] == [
            ((("commonName", "polyfhir test CA"),),)
        ]
        streamed = security.faststream_security()
        assert isinstance(streamed, kind)
        assert streamed.use_ssl and streamed.ssl_context is not None
    # the password never shows in a repr or a log of the settings
    assert "s3cret" not in repr(KafkaSecuritySettings()) + repr(security)


def test_sasl_without_tls_sends_no_ssl_context(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYFHIR_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("POLYFHIR_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("POLYFHIR_KAFKA_SASL_USERNAME", "indexer")
    monkeypatch.setenv("POLYFHIR_KAFKA_SASL_PASSWORD", "pw")
    security = IndexerSettings(consumer_group="g", port=1).kafka_security()
    assert "ssl_context" not in security.aiokafka_options()
    streamed = security.faststream_security()
    assert isinstance(streamed, SASLScram512) and not streamed.use_ssl


def test_tls_only_is_a_plain_security_object(tmp_path: Path) -> None:
    security = KafkaSecurity(protocol="SSL", ca_file=str(_ca(tmp_path)))
    streamed = security.faststream_security()
    assert type(streamed) is BaseSecurity and streamed.use_ssl
    assert "sasl_mechanism" not in security.aiokafka_options()


@pytest.mark.parametrize(
    "env",
    [
        {"POLYFHIR_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"},  # no mechanism nor credentials
        {"POLYFHIR_KAFKA_SASL_MECHANISM": "PLAIN"},  # SASL over PLAINTEXT
        {"POLYFHIR_KAFKA_SECURITY_PROTOCOL": "SSL", "POLYFHIR_KAFKA_SSL_CERT_FILE": "/c.pem"},
        {"POLYFHIR_KAFKA_SECURITY_PROTOCOL": "TLS"},
    ],
)
def test_incomplete_security_settings_are_refused(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        KafkaSecuritySettings()


async def test_the_clients_accept_the_security_objects(tmp_path: Path) -> None:
    security = KafkaSecurity(
        protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-256",
        username="u",
        password="p",
        ca_file=str(_ca(tmp_path)),
    )
    producer = create_producer("kafka:9093", security=security)
    try:
        assert producer.client._security_protocol == "SASL_SSL"
        assert producer.client._sasl_mechanism == "SCRAM-SHA-256"
    finally:
        await producer.stop()

    async def handler(batch: Batch) -> list[Rejection]:
        return []

    consumer = BatchConsumer("kafka:9093", "g", handler, consumer_name="c", security=security)
    builder = consumer.broker.config.broker_config.builder
    assert isinstance(builder, functools.partial)  # the AIOKafkaConsumer FastStream builds
    built = builder.keywords
    assert built["security_protocol"] == "SASL_SSL"
    assert (built["sasl_mechanism"], built["sasl_plain_username"]) == ("SCRAM-SHA-256", "u")
    assert isinstance(built["ssl_context"], ssl.SSLContext)
