"""The relay loop over an in-memory outbox and publisher (the real engines are covered in
tests/integration/bus): what gets positions, what gets marked, what is sent again."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

import pytest

from polyfhir_bus.events import SCHEMA_VERSION, ChangeKind, ResourceChanged
from polyfhir_bus.kafka import OutgoingRecord
from polyfhir_bus.kafka import key_partition
from polyfhir_bus.relay import (
    OutboxRecord,
    OutboxRelay,
    PublishFailed,
    RelaySettings,
    acknowledged_prefix,
)

pytestmark = pytest.mark.unit
T0 = datetime(2026, 1, 1, tzinfo=UTC)


class MemoryOutbox:
    def __init__(self) -> None:
        self.rows: dict[int, OutboxRecord] = {}
        self.published: set[int] = set()
        self.counters: dict[int, int] = {}

    def add(self, rid: str, version: int = 1) -> None:
        seq = len(self.rows) + 1
        event = ResourceChanged("t", "Patient", rid, version, ChangeKind.CREATED, T0, {"id": rid})
        self.rows[seq] = OutboxRecord(seq, event.key, event.to_json(), T0)

    def _pending(self) -> list[OutboxRecord]:
        return [r for s, r in sorted(self.rows.items()) if s not in self.published]

    async def outbox_unpositioned(self, limit: int) -> list[OutboxRecord]:
        return [r for r in self._pending() if r.position is None][:limit]

    async def outbox_positioned(self, limit: int) -> list[OutboxRecord]:
        rows = [r for r in self._pending() if r.position is not None]
        return sorted(rows, key=lambda r: (r.partition or 0, r.position or 0))[:limit]

    async def assign_positions(self, partitions: Mapping[int, int]) -> dict[int, int]:
        out = {}
        for seq in sorted(partitions):
            p = partitions[seq]
            self.counters[p] = out[seq] = self.counters.get(p, 0) + 1
            old = self.rows[seq]
            self.rows[seq] = OutboxRecord(
                old.seq, old.key, old.payload, old.created_at, p, out[seq]
            )
        return out

    async def mark_published(self, seqs: Sequence[int]) -> None:
        self.published.update(seqs)

    async def outbox_backlog(self) -> int:
        return len(self._pending())

    async def claim_relay(self, wake: Callable[[], None]) -> bool:
        return True

    async def release_relay(self) -> None:
        pass


class FlakyPublisher:
    """Acknowledges everything except the records whose key is in ``refuse``."""

    def __init__(self) -> None:
        self.sent: list[OutgoingRecord] = []
        self.refuse: set[str] = set()

    async def prepare(self) -> int:
        return 3

    async def publish(self, records: Sequence[OutgoingRecord]) -> list[BaseException | None]:
        self.sent.extend(records)
        return [ConnectionError("down") if r.key in self.refuse else None for r in records]

    async def close(self) -> None:
        pass


class Recorder:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.failures = 0
        self.backlogs: list[int] = []

    def published(self, latencies: Sequence[float]) -> None:
        self.latencies.extend(latencies)

    def failed(self) -> None:
        self.failures += 1

    def backlog(self, rows: int) -> None:
        self.backlogs.append(rows)


def _relay(outbox: MemoryOutbox, publisher: FlakyPublisher, batch: int = 100) -> OutboxRelay:
    return OutboxRelay(outbox, publisher, RelaySettings(batch_size=batch), Recorder())


async def test_new_rows_get_gapless_positions_in_their_key_partition() -> None:
    outbox, publisher = MemoryOutbox(), FlakyPublisher()
    for i in range(30):
        outbox.add(f"p{i}")
    assert await _relay(outbox, publisher).publish_once() == 30
    assert outbox.published == set(outbox.rows)
    for partition in range(3):
        sent = [r for r in publisher.sent if r.partition == partition]
        assert [r.position for r in sent] == list(range(1, len(sent) + 1))
        assert all(key_partition(r.key, 3) == partition for r in sent)
    assert {r.schema for r in publisher.sent} == {SCHEMA_VERSION}


async def test_a_refused_record_blocks_marking_the_rest_of_its_partition_only() -> None:
    outbox, publisher = MemoryOutbox(), FlakyPublisher()
    for i in range(30):
        outbox.add(f"p{i}")
    victim = publisher.refuse = {outbox.rows[5].key}
    relay = _relay(outbox, publisher)
    with pytest.raises(PublishFailed, match="not acknowledged"):
        await relay.publish_once()
    bad = key_partition(next(iter(victim)), 3)
    position = next(r.position for r in publisher.sent if r.key in victim)
    for r in outbox.rows.values():
        later_in_bad = r.partition == bad and (r.position or 0) >= position
        assert (r.seq in outbox.published) is not later_in_bad

    publisher.refuse, publisher.sent = set(), []
    waiting = await outbox.outbox_backlog()
    outbox.add("late")  # a new row waits until the positioned ones are out
    assert await relay.publish_once() == waiting
    assert all(r.partition == bad for r in publisher.sent)
    assert next(r.position for r in publisher.sent) == position
    assert await relay.publish_once() == 1
    assert outbox.published == set(outbox.rows)


def test_acknowledged_prefix_is_per_partition() -> None:
    rows = [
        OutboxRecord(s, "k", b"", T0, p, n)
        for s, p, n in [(1, 0, 1), (2, 0, 2), (3, 1, 1), (4, 0, 3)]
    ]
    results: list[BaseException | None] = [None, TimeoutError(), None, None]
    assert acknowledged_prefix(rows, results) == [1, 3]


async def _until(check: Callable[[], bool]) -> None:
    while True:
        if check():
            return
        await asyncio.sleep(0.01)


async def test_the_loop_retries_after_failures_and_drains_the_backlog() -> None:
    outbox, publisher = MemoryOutbox(), FlakyPublisher()
    for i in range(25):
        outbox.add(f"p{i}")
    publisher.refuse = {outbox.rows[1].key}
    metrics = Recorder()
    relay = OutboxRelay(outbox, publisher, RelaySettings(batch_size=10, poll_interval=30), metrics)
    relay.start()
    try:
        async with asyncio.timeout(10):
            await _until(lambda: metrics.failures >= 2)
            publisher.refuse = set()
            await _until(lambda: not outbox._pending())
            outbox.add("woken")  # only a wake-up can bring it out before the 30 s poll
            relay.wake()
            await _until(lambda: not outbox._pending())
    finally:
        await relay.stop()
    assert len(metrics.latencies) == 26
    assert metrics.backlogs[-1] == 0
