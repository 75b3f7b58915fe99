"""No event blocks the bus: a resource of any size is published (gzip, or a claim check
when even that exceeds the broker's limit) and the writes after it flow; a row the
broker refuses for good is dead-lettered, counted, listed and retryable, and the rows
behind it are published. Both engines, over the real broker."""

from __future__ import annotations

import random
import string

import pytest
from prometheus_client import REGISTRY

from integration.bus.conftest import StartStore, eventually, read_topic
from polyfhir.outbox import list_dead_letters, retry_dead_letters
from polyfhir_bus.codec import GZIP, EventSizing, decode_value
from polyfhir_bus.events import CLAIM_CHECK_SCHEMA_VERSION, ResourceChanged
from polyfhir_bus.kafka import KafkaPublisher, ProducerSettings
from polyfhir_bus.relay import OutboxRelay, RelaySettings
from polyfhir_core.contracts.primary_store import BundleKind, EntryRequest, Method
from polyfhir_core.tenancy import TenantContext
from polyfhir_engines.tansu import LocalKafka
from polyfhir_primary.bootstrap import PrimaryStoreApp
from polyfhir_primary.metrics import PrometheusRelayMetrics

pytestmark = pytest.mark.integration


def words(count: int, seed: int) -> str:
    """Random lowercase words: text that compresses only ~2:1."""
    rng = random.Random(seed)
    return " ".join("".join(rng.choices(string.ascii_lowercase, k=7)) for _ in range(count))


def patient(rid: str, **fields: object) -> EntryRequest:
    body = {"resourceType": "Patient", "id": rid, **fields}
    return EntryRequest(Method.PUT, f"Patient/{rid}", body)


async def write(app: PrimaryStoreApp, tenant: str, *entries: EntryRequest) -> None:
    ctx = TenantContext.of(tenant)
    responses = await app.service.process(ctx, BundleKind.TRANSACTION, list(entries))
    assert all(r.ok for r in responses), responses


async def nothing_pending(app: PrimaryStoreApp, tenant: str) -> bool:
    positions = await app.service.positions(TenantContext.of(tenant))
    return positions.pending == 0 and bool(positions.partitions)


def dead_lettered_metric() -> float:
    return REGISTRY.get_sample_value("polyfhir_outbox_dead_lettered_total") or 0.0


async def test_resources_larger_than_the_broker_limit_are_published_and_others_flow_after(
    broker: LocalKafka, start_store: StartStore, tenant: str
) -> None:
    app = await start_store(broker.bootstrap, kafka_max_message_bytes=256 * 1024)
    the_issues = patient("huge", name=[{"family": "x" * 1_100_000}])  # 1.1 MB, compressible
    noisy = patient("noisy", text={"status": "generated", "div": f"<div>{words(140_000, 1)}</div>"})
    await write(app, tenant, the_issues)
    await write(app, tenant, noisy)  # ~1.1 MB, ~600 KB compressed: more than 256 KiB
    other = f"{tenant}-other"
    await write(app, other, patient("small", active=True))  # another tenant, right after
    await eventually(lambda: nothing_pending(app, other), "the other tenant's write to publish")
    await eventually(lambda: nothing_pending(app, tenant), "the large events to publish")

    records = {r.key.split("|")[-1]: r for r in await read_topic(broker.bootstrap, expected=3)}
    assert set(records) == {"huge", "noisy", "small"}
    assert records["small"].encoding is None
    huge = records["huge"]
    assert huge.encoding == GZIP and len(huge.value) < 256 * 1024
    event = ResourceChanged.from_json(decode_value(huge.value, huge.encoding))
    assert event.resource is not None
    assert event.resource["name"][0]["family"] == "x" * 1_100_000
    ticket = records["noisy"]
    assert (ticket.encoding, ticket.schema) == (None, CLAIM_CHECK_SCHEMA_VERSION)
    claim = ResourceChanged.from_json(ticket.value)
    assert (claim.resource, claim.resource_ref) == (None, "Patient/noisy/_history/1")
    assert await app.database.dead_lettered_outbox(10) == []


async def test_a_row_the_broker_refuses_for_good_is_dead_lettered_and_the_next_rows_publish(
    broker: LocalKafka,
    start_store: StartStore,
    tenant: str,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    app = await start_store(broker.bootstrap)
    assert app.relay is not None
    await app.relay.stop()  # this test publishes by hand, through a broker limit of 20 kB
    await write(app, tenant, patient("before"))
    narrative = {"status": "generated", "div": f"<div>{words(6_000, 2)}</div>"}
    await write(app, tenant, patient("refused", text=narrative))
    await write(app, tenant, patient("after"))
    # the broker's real limit is below the one the relay was configured with
    narrow = KafkaPublisher(broker.bootstrap, 3, settings=ProducerSettings(max_request_size=20_000))
    relay = OutboxRelay(
        app.database, narrow, RelaySettings(sizing=EventSizing()), PrometheusRelayMetrics()
    )
    counted = dead_lettered_metric()
    try:
        assert await relay.publish_once() == 3  # nothing left to retry: no PublishFailed
    finally:
        await relay.stop()

    assert dead_lettered_metric() == counted + 1
    assert await app.database.outbox_backlog() == 0
    assert await nothing_pending(app, tenant)  # freshness does not wait for the dead row
    [dead] = await app.database.dead_lettered_outbox(10)
    assert (dead.tenant, dead.resource_id, dead.version) == (tenant, "refused", 1)
    assert "MessageSizeTooLargeError" in dead.reason
    published = {r.key.split("|")[-1] for r in await read_topic(broker.bootstrap, expected=2)}
    assert published == {"before", "after"}

    # the operator lists it and retries it (polyfhir outbox ...) once the broker takes it
    monkeypatch.setenv("POLYFHIR_PRIMARY_URL", database_url)
    assert await list_dead_letters() == 0
    listed = capsys.readouterr().out
    assert f"{dead.seq}\t" in listed and "Patient/refused/_history/1" in listed
    assert "MessageSizeTooLargeError" in listed
    assert await retry_dead_letters([dead.seq]) == 0
    assert "1 row(s) pending again" in capsys.readouterr().out
    assert await app.database.outbox_backlog() == 1
    retry = OutboxRelay(app.database, KafkaPublisher(broker.bootstrap, 3))
    try:
        assert await retry.publish_once() == 1
    finally:
        await retry.stop()
    assert await app.database.dead_lettered_outbox(10) == []
    records = await read_topic(broker.bootstrap, expected=3)
    assert {r.key.split("|")[-1] for r in records} == {"before", "refused", "after"}
