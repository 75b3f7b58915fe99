"""The TLS diagnosis of a failed Kafka connection: which server it asks, and that it never
asks when the client does not use TLS (a plaintext failure keeps aiokafka's own error)."""

from __future__ import annotations

import ssl

import pytest

from polyfhir_bus.security import KafkaSecurity
from polyfhir_bus.tls_diagnosis import KafkaTlsRefused, first_server, tls_refusal


@pytest.mark.parametrize(
    ("bootstrap", "expected"),
    [
        ("kafka-0.kafka:9093", ("kafka-0.kafka", 9093)),
        (" broker-a:9094 , broker-b:9094", ("broker-a", 9094)),
        ("[::1]:9093", ("::1", 9093)),
        ("kafka", ("kafka", 9092)),
    ],
)
def test_the_first_bootstrap_server_is_probed(bootstrap: str, expected: tuple[str, int]) -> None:
    assert first_server(bootstrap) == expected


@pytest.mark.parametrize(
    "plain",
    [KafkaSecurity(), KafkaSecurity(protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN")],
    ids=["PLAINTEXT", "SASL_PLAINTEXT"],
)
async def test_no_probe_without_tls(plain: KafkaSecurity) -> None:
    assert await tls_refusal("127.0.0.1:9092", plain) is None  # the guard refuses sockets


def test_a_refusal_stops_a_service_as_invalid_configuration() -> None:
    from polyfhir_servicekit.startup import ExitCode, classify

    error = KafkaTlsRefused("TLS to the Kafka broker k:9093 failed: x (check the CA file)")
    assert isinstance(error, ssl.SSLError)
    code, message = classify(error)
    assert code == ExitCode.CONFIGURATION  # a person must change a CA file or certificate
    assert "check the CA file" in message
