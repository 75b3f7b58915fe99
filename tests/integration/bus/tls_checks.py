"""What the TLS and mutual-TLS tests share: a TLS broker per module, a primary store
whose relay talks TLS, the indexers' consumer over TLS, the relay's log lines."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.bus.conftest import StartStore, eventually
from polyfhir_bus.consumer import Batch, BatchConsumer, ConsumerOptions, Rejection
from polyfhir_bus.security import KafkaSecurity, KafkaSecuritySettings
from polyfhir_core.contracts.primary_store import BundleKind, EntryRequest, Method
from polyfhir_core.tenancy import TenantContext
from polyfhir_primary.bootstrap import PrimaryStoreApp
from polyfhir_testing.kafka_tls import MISSING_REASON, KafkaTlsSetup, stunnel_available

RELAY_LOGGER = "polyfhir_bus.relay"


def started_tls_kafka(directory: Path, *, mutual: bool) -> Iterator[KafkaTlsSetup]:
    """Tansu behind stunnel (one per test module); the tests skip where stunnel is missing."""
    if not stunnel_available():
        pytest.skip(MISSING_REASON)
    setup = KafkaTlsSetup.create(directory, mutual=mutual)
    with setup.kafka:
        yield setup


def security(settings: dict[str, str]) -> KafkaSecurity:
    """The Kafka security a service builds from these ``kafka_*`` settings."""
    return KafkaSecuritySettings.model_validate(settings).kafka_security()


async def store_with_relay(
    start_store: StartStore, setup: KafkaTlsSetup, settings: dict[str, str]
) -> PrimaryStoreApp:
    app: PrimaryStoreApp = await start_store(setup.bootstrap, **settings)
    return app


async def write_patients(app: PrimaryStoreApp, tenant: str, *ids: str) -> None:
    entries = [
        EntryRequest(Method.PUT, f"Patient/{i}", {"resourceType": "Patient", "id": i}) for i in ids
    ]
    responses = await app.service.process(TenantContext.of(tenant), BundleKind.TRANSACTION, entries)
    assert all(r.ok for r in responses), responses


def indexer_consumer(
    setup: KafkaTlsSetup, settings: dict[str, str], tenant: str, received: set[str]
) -> BatchConsumer:
    """The change-stream consumer every indexer runs (creating the topics first, as
    indexers do), collecting the ids of ``tenant``'s events into ``received``."""

    async def collect(batch: Batch) -> list[Rejection]:
        received.update(d.event.resource_id for d in batch.deliveries if d.event.tenant == tenant)
        return []

    return BatchConsumer(
        setup.bootstrap,
        f"tls-{uuid.uuid4().hex[:10]}",
        collect,
        consumer_name="tls-test-indexer",
        options=ConsumerOptions(topic_partitions=3, batch_timeout_ms=20),
        security=security(settings),
    )


async def receive_over_tls(
    setup: KafkaTlsSetup, settings: dict[str, str], tenant: str, ids: set[str]
) -> None:
    """The indexers' consumer, over TLS with ``settings``, receives every one of ``ids``."""
    received: set[str] = set()
    consumer = indexer_consumer(setup, settings, tenant, received)
    await consumer.start()
    try:
        await eventually(lambda: received >= ids, f"{sorted(ids)} over TLS")
    finally:
        await consumer.stop()
    assert received == ids


async def relay_refusal(caplog: pytest.LogCaptureFixture, fragment: str) -> str:
    """The relay's retry line that names ``fragment`` (a TLS reason), once logged."""

    def line() -> str | None:
        for record in caplog.records:
            message = record.getMessage()
            if record.name == RELAY_LOGGER and fragment in message:
                return message
        return None

    found: str = await eventually(line, f"the relay to log {fragment!r}")
    return found


def watch_relay(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=RELAY_LOGGER)
