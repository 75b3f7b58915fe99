"""The relay loop over an in-memory outbox and publisher (the real engines are covered in
tests/integration/bus): what gets positions, what gets marked, what is sent again."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka.errors import KafkaTimeoutError, MessageSizeTooLargeError, RecordListTooLargeError

from polyfhir_bus.codec import GZIP, EventEncodingError, EventSizing
from polyfhir_bus.events import SCHEMA_VERSION, ChangeKind, ResourceChanged
from polyfhir_bus.kafka import OutgoingRecord, is_permanent, key_partition
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
        self.dead: dict[int, str] = {}
        self.counters: dict[int, int] = {}
        self._last_seq = 0

    def add(self, rid: str, version: int = 1, **content: object) -> int:
        self._last_seq += 1  # a sequence: pruned rows leave their numbers unused
        seq = self._last_seq
        body = {"id": rid, **content}
        event = ResourceChanged("t", "Patient", rid, version, ChangeKind.CREATED, T0, body)
        self.rows[seq] = OutboxRecord(seq, event.key, event.to_json(), T0)
        return seq

    def _pending(self) -> list[OutboxRecord]:
        done = self.published | set(self.dead)
        return [r for s, r in sorted(self.rows.items()) if s not in done]

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

    async def mark_dead_lettered(self, reasons: Mapping[int, str]) -> None:
        self.dead.update(reasons)

    async def outbox_backlog(self) -> int:
        return len(self._pending())

    async def prune_published(self, before: datetime, limit: int) -> int:
        gone = [s for s in sorted(self.published) if self.rows[s].created_at < before][:limit]
        for seq in gone:
            del self.rows[seq]
            self.published.discard(seq)
        return len(gone)

    async def claim_relay(self, wake: Callable[[], None]) -> bool:
        return True

    async def release_relay(self) -> None:
        pass


class FlakyPublisher:
    """Acknowledges everything except the records whose key is in ``refuse`` (for now) or
    ``too_large`` (for good, as a broker refuses a record above its message limit)."""

    def __init__(self) -> None:
        self.sent: list[OutgoingRecord] = []
        self.refuse: set[str] = set()
        self.too_large: set[str] = set()

    async def prepare(self) -> int:
        return 3

    async def publish(self, records: Sequence[OutgoingRecord]) -> list[BaseException | None]:
        self.sent.extend(records)
        return [self._outcome(r) for r in records]

    def _outcome(self, record: OutgoingRecord) -> BaseException | None:
        if record.key in self.too_large:
            refused: BaseException = MessageSizeTooLargeError("larger than max.message.bytes")
            return refused
        return ConnectionError("down") if record.key in self.refuse else None

    async def close(self) -> None:
        pass


class Recorder:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.failures = 0
        self.dead = 0
        self.forms: dict[str, int] = {}
        self.backlogs: list[int] = []
        self.pruned_rows = 0

    def published(self, latencies: Sequence[float]) -> None:
        self.latencies.extend(latencies)

    def failed(self) -> None:
        self.failures += 1

    def dead_lettered(self, rows: int) -> None:
        self.dead += rows

    def sent_as(self, form: str) -> None:
        self.forms[form] = self.forms.get(form, 0) + 1

    def backlog(self, rows: int) -> None:
        self.backlogs.append(rows)

    def pruned(self, rows: int) -> None:
        self.pruned_rows += rows


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


@pytest.mark.parametrize(
    ("error", "permanent"),
    [
        (MessageSizeTooLargeError(), True),
        (RecordListTooLargeError(), True),
        (EventEncodingError("not an event"), True),
        (KafkaTimeoutError(), False),
        (ConnectionError("refused"), False),
        (TimeoutError(), False),
    ],
)
def test_broker_errors_are_classified(error: BaseException, permanent: bool) -> None:
    assert is_permanent(error) is permanent


async def test_a_permanently_refused_row_is_dead_lettered_and_the_rows_behind_it_flow() -> None:
    outbox, publisher = MemoryOutbox(), FlakyPublisher()
    seqs = [outbox.add(f"p{i}") for i in range(30)]
    victim = outbox.rows[seqs[4]]
    publisher.too_large = {victim.key}
    metrics = Recorder()
    relay = OutboxRelay(outbox, publisher, RelaySettings(batch_size=100), metrics)
    assert await relay.publish_once() == 30  # no PublishFailed: nothing is left to retry
    assert list(outbox.dead) == [victim.seq]
    assert "MessageSizeTooLargeError" in outbox.dead[victim.seq]
    assert outbox.published == set(seqs) - {victim.seq}
    assert metrics.dead == 1
    assert await outbox.outbox_backlog() == 0
    outbox.add("next")
    publisher.sent = []
    assert await relay.publish_once() == 1  # the dead-lettered row is never sent again
    assert [r.key for r in publisher.sent] == [outbox.rows[31].key]


async def test_a_transient_failure_before_a_permanent_one_keeps_both_for_the_retry() -> None:
    outbox, publisher = MemoryOutbox(), FlakyPublisher()
    for i in range(40):
        outbox.add(f"p{i}")
    by_partition: dict[int, list[str]] = {}
    for r in outbox.rows.values():
        by_partition.setdefault(key_partition(r.key, 3), []).append(r.key)
    first, second = by_partition[0][:2]
    publisher.refuse, publisher.too_large = {first}, {second}
    metrics = Recorder()
    relay = OutboxRelay(outbox, publisher, RelaySettings(batch_size=100), metrics)
    with pytest.raises(PublishFailed):
        await relay.publish_once()
    assert outbox.dead == {}  # decided only when its turn comes, after the transient one
    publisher.refuse = set()
    assert await relay.publish_once() > 0
    assert [outbox.rows[s].key for s in outbox.dead] == [second]


async def test_events_are_sent_in_the_form_that_fits_the_broker() -> None:
    outbox, publisher = MemoryOutbox(), FlakyPublisher()
    outbox.add("small")
    outbox.add("large", name=[{"family": "x" * 1_100_000}])
    metrics = Recorder()
    relay = OutboxRelay(outbox, publisher, RelaySettings(sizing=EventSizing()), metrics)
    assert await relay.publish_once() == 2
    assert metrics.forms == {"plain": 1, "gzip": 1}
    forms = {r.key.split("|")[-1]: (r.encoding, len(r.value)) for r in publisher.sent}
    assert forms["small"][0] is None
    assert forms["large"][0] == GZIP
    assert forms["large"][1] < 1024 * 1024


async def test_published_rows_past_the_retention_window_are_pruned_in_bounded_batches() -> None:
    outbox, publisher = MemoryOutbox(), FlakyPublisher()
    for i in range(25):
        outbox.add(f"p{i}")
    pending = outbox.add("still-pending")
    outbox.dead[outbox.add("refused")] = "too large"
    metrics = Recorder()
    settings = RelaySettings(retention=timedelta(hours=24), prune_batch=10, prune_max_batches=2)
    relay = OutboxRelay(
        outbox, publisher, settings, metrics, clock=lambda: T0 + timedelta(hours=25)
    )
    await relay.publish_once()  # everything but the dead-lettered row goes out
    outbox.published.discard(pending)  # and one row is still waiting for the broker
    assert await relay.prune_once() == 20  # two batches of 10: the pass stops there
    assert await relay.prune_once() == 5
    assert metrics.pruned_rows == 25
    assert set(outbox.rows) == {pending, *outbox.dead}  # never the unpublished ones


async def test_nothing_is_pruned_inside_the_window_or_without_retention() -> None:
    outbox, publisher = MemoryOutbox(), FlakyPublisher()
    outbox.add("p")
    inside = OutboxRelay(
        outbox, publisher, RelaySettings(), Recorder(), clock=lambda: T0 + timedelta(hours=23)
    )
    await inside.publish_once()
    assert await inside.prune_once() == 0
    forever = OutboxRelay(
        outbox,
        publisher,
        RelaySettings(retention=None),
        Recorder(),
        clock=lambda: T0 + timedelta(days=400),
    )
    assert await forever.prune_once() == 0
    assert len(outbox.rows) == 1
