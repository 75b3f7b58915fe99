"""Mutual TLS against a real broker (stunnel with ``verify = 2`` in front of Tansu): with the
client certificate the relay publishes and the indexers' consumer receives; without it
the broker refuses the session, the relay says so and keeps the rows, and a consumer
does not start."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from integration.bus.conftest import StartStore
from integration.bus.tls_checks import (
    indexer_consumer,
    receive_over_tls,
    relay_refusal,
    started_tls_kafka,
    store_with_relay,
    watch_relay,
    write_patients,
)
from polyfhir_bus.tls_diagnosis import KafkaTlsRefused
from polyfhir_testing.kafka_tls import KafkaTlsSetup

pytestmark = pytest.mark.integration
REFUSED = "refused the TLS session"


@pytest.fixture(scope="module")
def mtls_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaTlsSetup]:
    yield from started_tls_kafka(tmp_path_factory.mktemp("kafka-mtls"), mutual=True)


async def test_with_the_client_certificate_events_flow(
    mtls_kafka: KafkaTlsSetup, start_store: StartStore, tenant: str
) -> None:
    settings = mtls_kafka.settings(client_cert=True)
    app = await store_with_relay(start_store, mtls_kafka, settings)
    await write_patients(app, tenant, "p1", "p2", "p3")
    await receive_over_tls(mtls_kafka, settings, tenant, {"p1", "p2", "p3"})
    assert await app.database.outbox_backlog() == 0


async def test_a_relay_without_the_client_certificate_is_refused_and_keeps_the_rows(
    mtls_kafka: KafkaTlsSetup,
    start_store: StartStore,
    tenant: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    watch_relay(caplog)
    app = await store_with_relay(start_store, mtls_kafka, mtls_kafka.settings())
    await write_patients(app, tenant, "p1")
    line = await relay_refusal(caplog, REFUSED)
    assert f"the Kafka broker {mtls_kafka.bootstrap} {REFUSED}" in line
    assert "certificate required" in line
    assert "retrying" in line
    assert await app.database.outbox_backlog() == 1


async def test_a_consumer_without_the_client_certificate_does_not_start(
    mtls_kafka: KafkaTlsSetup, tenant: str
) -> None:
    consumer = indexer_consumer(mtls_kafka, mtls_kafka.settings(), tenant, set())
    with pytest.raises(KafkaTlsRefused, match="certificate required"):
        await consumer.start()
    await consumer.stop()


async def test_a_client_certificate_of_another_ca_is_refused(
    mtls_kafka: KafkaTlsSetup, tenant: str
) -> None:
    stranger = mtls_kafka.wrong_ca.issue_client("stranger")
    settings = {
        **mtls_kafka.settings(),
        "kafka_ssl_cert_file": str(stranger.cert),
        "kafka_ssl_key_file": str(stranger.key),
    }
    consumer = indexer_consumer(mtls_kafka, settings, tenant, set())
    with pytest.raises(KafkaTlsRefused, match=REFUSED):
        await consumer.start()
    await consumer.stop()
