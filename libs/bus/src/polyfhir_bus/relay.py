"""The transactional outbox relay: committed outbox rows -> the change-event topic.

Engine-agnostic: the primary database is an :class:`OutboxSource`, Kafka is a
:class:`Publisher`. One cycle:

1. Rows that already carry a position but are not published yet (an earlier
   send failed, or the relay stopped between the broker's ack and marking the
   rows) are sent again first, in position order, with the same positions.
2. Otherwise the oldest unpublished rows (``seq`` order) get a partition
   (Kafka's key partitioner) and the next gapless position of that partition,
   persisted in one transaction *before* anything is sent.
3. Every row is sent with an explicit partition and the position/schema
   headers, in the wire form that fits the broker (:mod:`polyfhir_bus.codec`:
   plain, gzip or a claim check); the relay awaits the acks and only then marks
   rows published — per partition, the acknowledged prefix, so a position is never
   marked while an earlier one of its partition still has to be re-sent.

A *permanent* refusal (:func:`polyfhir_bus.kafka.is_permanent`: the broker will
refuse that record whatever happens, e.g. too large or invalid, or the payload is no
event at all) dead-letters the row: it is marked with the reason, stays in the outbox
for an operator, is counted, and no longer holds back the rows behind it. Every other
failure is transient: the rows are kept (with their positions), the relay backs off
and retries: delivery is at-least-once. The write path never waits for the relay; the
backlog just grows while the broker is away and drains when it is back. While
there is backlog the relay drains batch after batch; when there is none it
sleeps until a commit wakes it (or the fallback poll interval passes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from polyfhir_bus.codec import EventEncodingError, EventSizing, encode_event
from polyfhir_bus.kafka import OutgoingRecord, is_permanent, key_partition
from polyfhir_bus.outbox_pruning import OutboxPruner
from polyfhir_core.config import RetryConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OutboxRecord:
    """One unpublished outbox row; ``partition``/``position`` are None until assigned."""

    seq: int
    key: str  # tenant|type|id (polyfhir_bus.events.event_key)
    payload: bytes
    created_at: datetime
    partition: int | None = None
    position: int | None = None


class OutboxSource(Protocol):
    """What the relay needs from the primary database."""

    async def outbox_unpositioned(self, limit: int) -> list[OutboxRecord]:
        """Unpublished rows without a position, oldest ``seq`` first."""

    async def outbox_positioned(self, limit: int) -> list[OutboxRecord]:
        """Unpublished rows that have a position, in (partition, position) order."""

    async def assign_positions(self, partitions: Mapping[int, int]) -> dict[int, int]:
        """In one transaction: give each row (``seq -> partition``, in ``seq`` order) the
        next position of its partition; return ``seq -> position`` (rows that already
        had a position are left out)."""

    async def mark_published(self, seqs: Sequence[int]) -> None: ...

    async def mark_dead_lettered(self, reasons: Mapping[int, str]) -> None:
        """Set rows (``seq -> reason``) aside for good: never sent again, not pending,
        kept for an operator to inspect and retry."""

    async def outbox_backlog(self) -> int:
        """Rows neither published nor dead-lettered."""

    async def prune_published(self, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` rows published before ``before``; how many went."""

    async def claim_relay(self, wake: Callable[[], None]) -> bool:
        """Whether this process may publish (one relay per database). While it may,
        ``wake`` is called soon after every commit that adds outbox rows. Called every
        cycle: cheap once the claim is held."""

    async def release_relay(self) -> None: ...


class Publisher(Protocol):
    async def prepare(self) -> int:
        """Make the topic exist and the producer ready; return the partition count."""

    async def publish(self, records: Sequence[OutgoingRecord]) -> list[BaseException | None]:
        """Send, await acks; per record ``None`` when acknowledged, else the error."""

    async def close(self) -> None: ...


class RelayMetrics(Protocol):
    def published(self, latencies: Sequence[float]) -> None:
        """Events acknowledged, each with its commit -> ack latency in seconds."""

    def failed(self) -> None: ...

    def dead_lettered(self, rows: int) -> None:
        """Rows refused for good by the broker, set aside."""

    def sent_as(self, form: str) -> None:
        """One event sent in ``form``: ``plain``, ``gzip`` or ``claim_check``."""

    def backlog(self, rows: int) -> None: ...

    def pruned(self, rows: int) -> None:
        """Published rows deleted after the retention window."""


class NoMetrics:
    def published(self, latencies: Sequence[float]) -> None:
        pass

    def failed(self) -> None:
        pass

    def dead_lettered(self, rows: int) -> None:
        pass

    def sent_as(self, form: str) -> None:
        pass

    def backlog(self, rows: int) -> None:
        pass

    def pruned(self, rows: int) -> None:
        pass


class PublishFailed(Exception):
    """Some records of a batch were not acknowledged (they stay in the outbox)."""


@dataclass(frozen=True, slots=True)
class RelaySettings:
    batch_size: int = 500
    poll_interval: float = 1.0  # fallback when no wake-up arrives
    standby_interval: float = 2.0  # another relay holds the claim: ask again this often
    backlog_interval: float = 1.0  # refresh the backlog metric at most this often
    sizing: EventSizing = field(default_factory=EventSizing)  # the broker's message limit
    # published rows older than this are deleted (None: kept for ever), at most
    # prune_batch rows per statement and prune_max_batches statements per pass, one pass
    # every prune_interval seconds: bounded work between publishing cycles
    # (polyfhir_bus.outbox_pruning)
    retention: timedelta | None = timedelta(hours=24)
    prune_interval: float = 60.0
    prune_batch: int = 1000
    prune_max_batches: int = 10
    retry: RetryConfig = field(
        default_factory=lambda: RetryConfig(initial_backoff_ms=100, max_backoff_ms=5_000)
    )


def acknowledged_prefix(
    records: Sequence[OutboxRecord], results: Sequence[BaseException | None]
) -> list[int]:
    """Seqs to mark published: per partition, the acknowledged records before its first
    transient failure (a permanent one is dead-lettered and holds nothing back)."""
    broken: set[int | None] = set()
    done = []
    for record, error in zip(records, results, strict=True):
        if error is not None:
            if not is_permanent(error):
                broken.add(record.partition)
        elif record.partition not in broken:
            done.append(record.seq)
    return done


def permanently_refused(
    records: Sequence[OutboxRecord], results: Sequence[BaseException | None]
) -> dict[int, str]:
    """``seq -> reason`` of the records the broker will never take, up to each
    partition's first transient failure (what follows it is sent again anyway)."""
    broken: set[int | None] = set()
    refused: dict[int, str] = {}
    for record, error in zip(records, results, strict=True):
        if error is None or record.partition in broken:
            continue
        if is_permanent(error):
            refused[record.seq] = f"{type(error).__name__}: {error}"[:1000]
        else:
            broken.add(record.partition)
    return refused


class OutboxRelay:
    def __init__(
        self,
        source: OutboxSource,
        publisher: Publisher,
        settings: RelaySettings | None = None,
        metrics: RelayMetrics | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        backoff: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._source, self._publisher = source, publisher
        self._settings = settings or RelaySettings()
        self._metrics = metrics or NoMetrics()
        self._clock = clock
        self._backoff = backoff  # the wait after a failure (retry settings)
        self._wake = asyncio.Event()
        self._partitions: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._backlog_at = 0.0
        self._pruner = OutboxPruner(self._source, self._settings, self._metrics, clock)

    def wake(self) -> None:
        """Called after a commit: publish now rather than at the next poll."""
        self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="outbox-relay")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(Exception):
            await self._source.release_relay()
        await self._publisher.close()

    async def run(self) -> None:
        failures = 0
        while True:
            try:
                if not await self._source.claim_relay(self.wake):
                    await self._sleep(self._settings.standby_interval)
                    continue
                if self._partitions is None:
                    self._partitions = await self._publisher.prepare()
                sent = await self.publish_once()
                failures = 0
                await self._refresh_backlog(force=sent == 0)
                await self._pruner.when_due()
                if sent == 0:
                    await self._sleep(self._settings.poll_interval)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                self._metrics.failed()
                # never given up (the outbox holds the rows): from max_attempts on, an error
                level = (
                    logging.ERROR
                    if failures >= self._settings.retry.max_attempts
                    else logging.WARNING
                )
                log.log(level, "outbox relay: %s (attempt %d, retrying)", exc, failures)
                await self._reset_publisher()
                with contextlib.suppress(Exception):  # the database may be the failure
                    await self._refresh_backlog(force=True)
                retry = self._settings.retry
                await self._backoff(retry.backoff_ms(min(failures, 64)) / 1000)

    async def publish_once(self) -> int:
        """One batch: re-send positioned rows, else position and send new ones. Returns
        how many rows were sent; raises PublishFailed when some were not acknowledged."""
        if self._partitions is None:
            self._partitions = await self._publisher.prepare()
        self._wake.clear()  # a commit from now on wakes the next cycle
        batch = self._settings.batch_size
        rows = await self._source.outbox_positioned(batch)
        if not rows:
            rows = await self._position(await self._source.outbox_unpositioned(batch))
        if not rows:
            return 0
        results = await self._send(rows)
        await self._dead_letter(rows, results)
        done = acknowledged_prefix(rows, results)
        if done:
            await self._source.mark_published(done)
            now = self._clock()
            ok = set(done)
            self._metrics.published(
                [max(0.0, (now - r.created_at).total_seconds()) for r in rows if r.seq in ok]
            )
        transient = [e for e in results if e is not None and not is_permanent(e)]
        if transient:
            msg = f"{len(transient)} of {len(rows)} events not acknowledged: {transient[0]!r}"
            raise PublishFailed(msg)
        return len(rows)

    async def _send(self, rows: Sequence[OutboxRecord]) -> list[BaseException | None]:
        """Encode every row for the wire and send those that could be; per row the outcome
        (an encoding error is permanent: no broker will take a payload that is no event)."""
        results: list[BaseException | None] = [None] * len(rows)
        sendable: list[int] = []
        outgoing: list[OutgoingRecord] = []
        for i, row in enumerate(rows):
            try:
                outgoing.append(await self._outgoing(row))
            except EventEncodingError as exc:
                results[i] = exc
            else:
                sendable.append(i)
        sent = await self._publisher.publish(outgoing) if outgoing else []
        for i, result in zip(sendable, sent, strict=True):
            results[i] = result
        return results

    async def _outgoing(self, record: OutboxRecord) -> OutgoingRecord:
        assert record.partition is not None
        assert record.position is not None
        sizing = self._settings.sizing
        if len(record.payload) > sizing.compress_above:  # compressing 1 MB takes milliseconds
            wire = await asyncio.to_thread(encode_event, record.payload, sizing)
        else:
            wire = encode_event(record.payload, sizing)
        self._metrics.sent_as("claim_check" if wire.claim_check else wire.encoding or "plain")
        return OutgoingRecord(
            key=record.key,
            value=wire.value,
            partition=record.partition,
            position=record.position,
            schema=wire.schema,
            encoding=wire.encoding,
        )

    async def _dead_letter(
        self, rows: Sequence[OutboxRecord], results: Sequence[BaseException | None]
    ) -> None:
        refused = permanently_refused(rows, results)
        if not refused:
            return
        await self._source.mark_dead_lettered(refused)
        self._metrics.dead_lettered(len(refused))
        for seq, reason in refused.items():
            log.error("outbox row %d dead-lettered: %s", seq, reason)

    async def _position(self, rows: list[OutboxRecord]) -> list[OutboxRecord]:
        if not rows:
            return rows
        assert self._partitions is not None
        count = self._partitions
        partitions = {r.seq: key_partition(r.key, count) for r in rows}
        positions = await self._source.assign_positions(partitions)
        placed = [  # a row missing from ``positions`` was numbered by someone else: skip it
            replace(r, partition=partitions[r.seq], position=positions[r.seq])
            for r in rows
            if r.seq in positions
        ]
        return sorted(placed, key=lambda r: (r.partition or 0, r.position or 0))

    async def _reset_publisher(self) -> None:
        """Drop the producer after a failure; the next attempt checks the topic first.

        A live producer refreshes metadata on its own, and a broker that auto-creates
        topics would re-create a lost topic with its default partition count before
        :meth:`Publisher.prepare` can create it with ours.
        """
        self._partitions = None
        try:
            await self._publisher.close()
        except Exception as exc:
            log.debug("closing the producer failed: %s", exc)

    async def prune_once(self) -> int:
        """Delete published rows past the retention window (see :mod:`outbox_pruning`)."""
        return await self._pruner.prune_once()

    async def _refresh_backlog(self, *, force: bool) -> None:
        now = time.monotonic()
        if force or now - self._backlog_at >= self._settings.backlog_interval:
            self._backlog_at = now
            self._metrics.backlog(await self._source.outbox_backlog())

    async def _sleep(self, seconds: float) -> None:
        """Until ``seconds`` pass or a commit wakes the relay."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
