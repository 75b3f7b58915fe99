"""The outbox relay: every committed change reaches the topic, in per-resource commit
order, with its key, partition and gapless position; the broker going away never
fails a write, and nothing acknowledged is lost when it comes back."""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from integration.bus.conftest import Record, StartStore, eventually, read_topic
from polyfhir_bus.events import SCHEMA_VERSION, ChangeKind, ResourceChanged, event_key
from polyfhir_bus.kafka import KafkaPublisher, key_partition
from polyfhir_bus.relay import OutboxRelay
from polyfhir_core.contracts.primary_store import (
    PRIMARY_STORE,
    BundleKind,
    EntryRequest,
    Method,
    PrimaryStore,
    TenantPositions,
)
from polyfhir_core.tenancy import TenantContext
from polyfhir_engines.processes import free_port, spawn, stop, wait_http
from polyfhir_engines.tansu import LocalKafka
from polyfhir_primary.bootstrap import PrimaryStoreApp
from polyfhir_servicekit.contract_client import ServiceClients

pytestmark = pytest.mark.integration


def put(rtype: str, rid: str, **fields: object) -> EntryRequest:
    return EntryRequest(Method.PUT, f"{rtype}/{rid}", {"resourceType": rtype, "id": rid, **fields})


async def write(app: PrimaryStoreApp, ctx: TenantContext, *entries: EntryRequest) -> None:
    responses = await app.service.process(ctx, BundleKind.TRANSACTION, list(entries))
    assert all(r.ok for r in responses), responses


async def drained(app: PrimaryStoreApp) -> None:
    await eventually(lambda: _empty(app), "the outbox to drain")


async def _empty(app: PrimaryStoreApp) -> bool:
    return await app.database.outbox_backlog() == 0


def backlog_metric() -> float:
    return REGISTRY.get_sample_value("polyfhir_outbox_backlog") or 0.0


def assert_gapless(records: list[Record]) -> None:
    by_partition: dict[int, list[int]] = defaultdict(list)
    for r in records:
        by_partition[r.partition].append(r.position)
    for partition, positions in by_partition.items():
        assert positions == list(range(positions[0], positions[0] + len(positions))), partition


async def test_committed_writes_reach_the_topic_in_commit_order(
    broker: LocalKafka, start_store: StartStore, tenant: str
) -> None:
    app = await start_store(broker.bootstrap)
    ctx = TenantContext.of(tenant)
    for round_ in range(3):
        await write(app, ctx, *(put("Patient", f"p{i}", gender="male") for i in range(8)))
        await write(app, ctx, put("Observation", f"o{round_}", status="final", code={"text": "x"}))
    await app.service.process(
        ctx, BundleKind.TRANSACTION, [EntryRequest(Method.DELETE, "Patient/p3")]
    )
    await drained(app)

    records = await read_topic(broker.bootstrap, expected=3 * 9 + 1)
    assert len(records) == 28
    partitions = {r.partition for r in records}
    # the relay created the topic with 3 partitions (11 random keys may miss one)
    assert partitions <= {0, 1, 2}
    assert_gapless(records)
    assert [r.position for r in records if r.offset == 0] == [1] * len(partitions)
    versions: dict[str, list[int]] = defaultdict(list)
    for r in records:
        event = ResourceChanged.from_json(r.value)
        assert r.key == event.key == event_key(tenant, event.resource_type, event.resource_id)
        assert r.partition == key_partition(r.key, 3)
        assert r.schema == SCHEMA_VERSION
        versions[r.key].append(event.version)
        if event.resource_id == "p3" and event.version == 4:
            assert event.kind is ChangeKind.DELETED and event.resource is None
    assert versions[event_key(tenant, "Patient", "p3")] == [1, 2, 3, 4]
    assert versions[event_key(tenant, "Patient", "p0")] == [1, 2, 3]
    assert versions[event_key(tenant, "Observation", "o2")] == [1]

    positions = await app.service.positions(ctx)
    assert positions.pending == 0
    # a partition no record reached has no position (11 random keys may miss one)
    last = {p: max(r.position for r in records if r.partition == p) for p in partitions}
    assert positions.partitions == last


async def test_writes_succeed_while_the_broker_is_down_and_drain_when_it_returns(
    broker: LocalKafka, start_store: StartStore, tenant: str
) -> None:
    app = await start_store(broker.bootstrap)
    ctx = TenantContext.of(tenant)
    await write(app, ctx, put("Patient", "before"))
    await drained(app)

    broker.stop()
    for i in range(20):  # every write is acknowledged although nothing can be published
        await write(app, ctx, put("Patient", f"during{i}", active=True))
    await eventually(lambda: backlog_metric() >= 20, "the backlog metric to grow")
    outage = await app.service.positions(ctx)
    assert outage.pending == 20

    broker.start()  # same port, empty: the memory-only broker lost every record
    await drained(app)
    records = await read_topic(broker.bootstrap, expected=20)
    seen = {ResourceChanged.from_json(r.value).resource_id for r in records}
    assert {f"during{i}" for i in range(20)} <= seen
    assert_gapless(records)
    after = await app.service.positions(ctx)
    assert after.pending == 0
    assert sum(1 for r in records if r.key.endswith("|during0")) >= 1
    assert backlog_metric() == 0


async def test_a_relay_that_dies_between_ack_and_mark_resends_with_the_same_positions(
    broker: LocalKafka, start_store: StartStore, tenant: str
) -> None:
    app = await start_store(broker.bootstrap)
    assert app.relay is not None
    await app.relay.stop()  # this process's relay publishes once by hand, then "dies"
    ctx = TenantContext.of(tenant)
    await write(app, ctx, *(put("Patient", f"p{i}") for i in range(6)))

    dying = OutboxRelay(DiesBeforeMarking(app.database), KafkaPublisher(broker.bootstrap, 3))
    with pytest.raises(RuntimeError, match="killed"):
        await dying.publish_once()
    await dying.stop()
    assert await app.database.outbox_backlog() == 6  # acknowledged, not marked: still pending
    assert len(await read_topic(broker.bootstrap, expected=6)) == 6

    survivor = await start_store(broker.bootstrap)  # the next relay on the same database
    await drained(survivor)
    records = await read_topic(broker.bootstrap, expected=12)
    assert len(records) == 12  # every event twice: a duplicate, nothing lost
    positions: dict[tuple[str, int], set[tuple[int, int]]] = defaultdict(set)
    for r in records:
        positions[(r.key, ResourceChanged.from_json(r.value).version)].add(
            (r.partition, r.position)
        )
    assert len(positions) == 6
    assert all(len(p) == 1 for p in positions.values())  # re-sent with the same position
    assert (await survivor.service.positions(ctx)).pending == 0


class DiesBeforeMarking:
    """The database as the relay sees it, except that marking rows published never happens."""

    def __init__(self, database: Any) -> None:
        self._database = database

    def __getattr__(self, name: str) -> Any:
        return getattr(self._database, name)

    async def mark_published(self, seqs: Sequence[int]) -> None:
        raise RuntimeError("relay process killed before marking the rows")


async def test_the_primary_store_service_relays_when_given_a_broker(
    broker: LocalKafka, database_url: str, tenant: str, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        "POLYFHIR_PRIMARY_URL": database_url,
        "POLYFHIR_KAFKA_BOOTSTRAP": broker.bootstrap,
        "POLYFHIR_KAFKA_TOPIC_PARTITIONS": "5",
    }
    binary = str(Path(sys.executable).parent / "polyfhir-primary-store")
    proc = spawn([binary, "--port", str(port)], env, tmp_path / "primary.log")
    base = f"http://127.0.0.1:{port}"
    clients = ServiceClients()
    store = clients.connect(PRIMARY_STORE, base)
    try:
        wait_http(f"{base}/readyz", proc)
        ctx = TenantContext.of(tenant)
        entries = [put("Patient", f"p{i}") for i in range(10)]
        await store.process(ctx, BundleKind.TRANSACTION, entries)
        positions = await eventually(
            lambda: _published(store, ctx), "the service's relay to publish"
        )
        records = await read_topic(broker.bootstrap, expected=10)
        assert len(records) == 10
        assert {r.partition for r in records} <= set(range(5))
        assert positions.partitions == {
            p: max(r.position for r in records if r.partition == p)
            for p in {r.partition for r in records}
        }
        async with httpx.AsyncClient() as client:
            metrics = (await client.get(f"{base}/metrics")).text
        assert "polyfhir_outbox_events_published_total 10.0" in metrics
    finally:
        await clients.close()
        stop(proc)


async def _published(store: PrimaryStore, ctx: TenantContext) -> TenantPositions | None:
    positions = await store.positions(ctx)
    return positions if positions.pending == 0 and positions.partitions else None
