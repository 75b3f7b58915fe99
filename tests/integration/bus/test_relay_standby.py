"""One relay per primary database (PostgreSQL: an advisory lock; SQLite: a file lock):
other primary-store processes stand by and take over when the publishing one goes away;
no event is published twice meanwhile."""

from __future__ import annotations

from collections import Counter

import pytest

from integration.bus.conftest import eventually, read_topic
from polyfhir_bus.events import ResourceChanged
from polyfhir_core.contracts.primary_store import BundleKind, EntryRequest, Method
from polyfhir_core.tenancy import TenantContext
from polyfhir_engines.tansu import LocalKafka
from polyfhir_primary.bootstrap import PrimaryStoreApp, bootstrap
from polyfhir_primary.settings import PrimarySettings

pytestmark = pytest.mark.integration


async def _write(app: PrimaryStoreApp, ctx: TenantContext, rid: str) -> None:
    entry = EntryRequest(Method.PUT, f"Patient/{rid}", {"resourceType": "Patient", "id": rid})
    [response] = await app.service.process(ctx, BundleKind.TRANSACTION, [entry])
    assert response.ok


async def _drained(app: PrimaryStoreApp) -> bool:
    return await app.database.outbox_backlog() == 0


async def test_a_standby_relay_takes_over_when_the_publisher_stops(
    broker: LocalKafka, database_url: str, tenant: str
) -> None:
    settings = PrimarySettings(
        primary_url=database_url, kafka_bootstrap=broker.bootstrap, relay_poll_ms=200
    )
    ctx = TenantContext.of(tenant)
    first = await bootstrap(settings)
    second: PrimaryStoreApp | None = None
    try:
        await _write(first, ctx, "one")
        await eventually(lambda: _drained(first), "the first store's relay to publish")
        second = await bootstrap(settings)  # its relay finds the lock taken: stands by
        for i in range(10):
            await _write(second, ctx, f"second{i}")  # published by the first store's relay
        await eventually(lambda: _drained(second), "the writes of the second store to publish")

        await first.close()
        for i in range(10):
            await _write(second, ctx, f"after{i}")
        await eventually(lambda: _drained(second), "the standby relay to take over")
    finally:
        if second is not None:
            await second.close()
        await first.close()

    records = await read_topic(broker.bootstrap, expected=21)
    events = Counter(ResourceChanged.from_json(r.value).resource_id for r in records)
    assert len(events) == 21
    assert set(events.values()) == {1}  # exactly once each: never two relays at a time
    for partition in {r.partition for r in records}:
        positions = [r.position for r in records if r.partition == partition]
        assert positions == list(range(1, len(positions) + 1))
