"""A batch consumer of the change stream, shared by every indexer.

A FastStream ``KafkaBroker`` batch subscriber on the change topic with its own
consumer group and an explicit ``AckPolicy.MANUAL``: offsets are committed only
after the handler has applied the batch, so a crash before the commit means
the batch comes again (at-least-once; handlers apply under a version guard).

Per batch:

1. every record is decoded with :meth:`ResourceChanged.from_json` plus its
   ``polyfhir-position`` header; a record that cannot be decoded
   (:class:`UnsupportedEvent`: not JSON, malformed, unknown major version) is
   sent to the dead-letter topic with the reason and the consumer's name;
   a gzip value (``polyfhir-encoding``) is inflated first;
2. an event that left its body in the primary (a claim check, ``resource_ref``) gets
   it back from :class:`~polyfhir_bus.claim_check.ResourceVersions` (``vread``), so
   the handler only ever sees whole events; a version the primary does not have is
   dead-lettered, a primary that cannot answer now fails the batch (retried);
3. the handler gets the decoded deliveries (and the batch's positions) and
   returns the ones it refuses for good (:class:`Rejection`), which are
   dead-lettered the same way;
4. the offsets are committed, within ``commit_timeout_s``.

Any exception from the handler (or from a dead-letter send) is transient: the
consumer seeks back to the start of the batch, backs off (doubling, bounded)
and processes the batch again. Nothing is ever dropped silently.

A commit never holds the consumer: aiokafka retries a commit the broker refuses
with a retriable error for as long as it is refused, and a consumer waiting on
it fetches nothing more. A broker can refuse for good: a memory-only Tansu that
was killed and restarted accepts the relay's records into a topic it no longer
lists (the relay's producer had it in its metadata), serves them to fetches, and
answers every offset commit with ``UNKNOWN_TOPIC_OR_PARTITION``. So a commit that
has not completed within ``commit_timeout_s`` (or fails) is given up: the batch
is applied, the failure is logged and counted, and consuming goes on; the next
commit covers these offsets too (a commit writes the consumer's positions). If
the process stops before a commit succeeds, the batches since the last one are
read again (at-least-once; handlers apply under a version guard).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from aiokafka import ConsumerRecord
from aiokafka.errors import KafkaError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from polyfhir_bus.claim_check import ResourceVersions, VersionUnavailable
from polyfhir_bus.codec import decode_value
from polyfhir_bus.events import (
    DEAD_LETTER_TOPIC,
    DLQ_CONSUMER_HEADER,
    DLQ_REASON_HEADER,
    ENCODING_HEADER,
    POSITION_HEADER,
    RESOURCE_CHANGES_TOPIC,
    ResourceChanged,
    UnsupportedEvent,
)
from polyfhir_bus.kafka import ensure_topics
from polyfhir_bus.security import KafkaSecurity

log = logging.getLogger(__name__)
MAX_REASON = 1000


@dataclass(frozen=True, slots=True)
class Delivery:
    """One decoded change event and where it came from."""

    event: ResourceChanged
    partition: int
    offset: int
    position: int | None  # the relay's position header; None when absent
    record: ConsumerRecord[Any, Any]


@dataclass(frozen=True, slots=True)
class Rejection:
    """A delivery the handler will never be able to apply, and why."""

    delivery: Delivery
    reason: str


@dataclass(frozen=True, slots=True)
class Batch:
    """The decoded deliveries of one poll, and the highest position header per partition
    over *every* record of it (dead-lettered ones included), so that an indexer can
    record that it has handled them. ``first_positions``: the lowest, likewise, so an
    indexer can tell that positions jumped (events lost before this batch)."""

    deliveries: list[Delivery]
    positions: dict[int, int]
    first_positions: dict[int, int] = field(default_factory=dict)


BatchHandler = Callable[[Batch], Awaitable[list[Rejection]]]


@dataclass(frozen=True, slots=True)
class ConsumerOptions:
    topic: str = RESOURCE_CHANGES_TOPIC
    dead_letter_topic: str = DEAD_LETTER_TOPIC
    max_records: int = 500
    batch_timeout_ms: int = 50
    # how long one fetch may wait at the broker for records; it bounds the lag an idle
    # consumer adds (aiokafka's default, 500 ms, is a visible floor under sync lag)
    fetch_max_wait_ms: int = 50
    backoff_initial_s: float = 0.1
    backoff_max_s: float = 5.0
    # a commit not done by then is given up (applied, not committed; see the module docstring)
    commit_timeout_s: float = 10.0
    # create missing topics with this many partitions before subscribing (None: don't);
    # otherwise a broker that auto-creates topics would pick its own count
    topic_partitions: int | None = None


class CommitTimedOut(Exception):
    """An offset commit the broker kept refusing (a retriable error) or did not answer."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__(f"offset commit not done within {timeout_s}s")


def _header(record: ConsumerRecord[Any, Any], name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name and value is not None:
            return bytes(value).decode("ascii", "replace")
    return None


def position_of(record: ConsumerRecord[Any, Any]) -> int | None:
    raw = _header(record, POSITION_HEADER)
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        raise UnsupportedEvent(f"{POSITION_HEADER} {raw!r} is not a number") from None


def decode(record: ConsumerRecord[Any, Any]) -> Delivery:
    """The delivery in ``record``; :class:`UnsupportedEvent` when it cannot be applied."""
    value = record.value
    if not isinstance(value, bytes | str):
        raise UnsupportedEvent("the record has no value")
    if isinstance(value, bytes):
        value = decode_value(value, _header(record, ENCODING_HEADER))
    event = ResourceChanged.from_json(value)
    return Delivery(event, record.partition, record.offset, position_of(record), record)


async def redeem(delivery: Delivery, versions: ResourceVersions | None) -> Delivery:
    """A claim-checked delivery with its body read from the primary; others unchanged.

    :class:`UnsupportedEvent` or :class:`VersionUnavailable` when it can never be
    redeemed (dead-letter it); any other error when the primary cannot answer now.
    """
    event = delivery.event
    if event.resource_ref is None:
        return delivery
    if versions is None:
        msg = f"{event.resource_ref}: a claim check, and this consumer has no primary to read"
        raise UnsupportedEvent(msg)
    body = await versions.body_of(event)
    return replace(delivery, event=event.with_body(body))


def batch_positions(
    records: tuple[ConsumerRecord[Any, Any], ...], *, lowest: bool = False
) -> dict[int, int]:
    """Per partition the highest (``lowest``: the lowest) position header of ``records``."""
    positions: dict[int, int] = {}
    for record in records:
        with contextlib.suppress(UnsupportedEvent):
            position = position_of(record)
            if position is None:
                continue
            held = positions.get(record.partition)
            if held is None or (position < held if lowest else position > held):
                positions[record.partition] = position
    return positions


class BatchConsumer:
    """Runs ``handler`` over batches of the change stream (see the module docstring)."""

    def __init__(
        self,
        bootstrap: str,
        group_id: str,
        handler: BatchHandler,
        *,
        consumer_name: str,
        options: ConsumerOptions | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        on_dead_letter: Callable[[str], None] | None = None,
        versions: ResourceVersions | None = None,
        security: KafkaSecurity | None = None,
    ) -> None:
        self.options = options or ConsumerOptions()
        self._security = security or KafkaSecurity()
        self.consumer_name = consumer_name
        self._bootstrap = bootstrap
        self._handler = handler
        self._on_error = on_error
        self._on_dead_letter = on_dead_letter
        self._versions = versions
        self._backoff = self.options.backoff_initial_s
        self._stopping = asyncio.Event()
        self.broker = KafkaBroker(
            bootstrap,
            acks="all",
            enable_idempotence=False,  # see polyfhir_bus.kafka: at-least-once, version-guarded
            client_id=consumer_name,
            security=self._security.faststream_security(),
            logger=log,
            log_level=logging.DEBUG,  # FastStream's per-batch access lines
        )
        self.broker.subscriber(
            self.options.topic,
            batch=True,
            group_id=group_id,
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
            max_records=self.options.max_records,
            batch_timeout_ms=self.options.batch_timeout_ms,
            fetch_max_wait_ms=self.options.fetch_max_wait_ms,
        )(self._on_batch)

    async def start(self) -> None:
        self._stopping.clear()
        if self.options.topic_partitions is not None:
            topics = [self.options.topic, self.options.dead_letter_topic]
            await ensure_topics(
                self._bootstrap, self.options.topic_partitions, topics, self._security
            )
        await self.broker.start()

    async def stop(self) -> None:
        self._stopping.set()
        await self.broker.stop()

    async def _on_batch(self, body: list[Any], message: KafkaMessage) -> None:
        del body  # the raw records are decoded here, with their headers
        raw = message.raw_message
        records: tuple[ConsumerRecord[Any, Any], ...] = raw if isinstance(raw, tuple) else (raw,)
        try:
            await self._process(records)
        except Exception as exc:  # transient by definition: retry the whole batch
            log.warning(
                "batch failed, retrying",
                extra={"consumer": self.consumer_name, "records": len(records), "error": repr(exc)},
            )
            if self._on_error is not None:
                self._on_error(exc)
            await message.nack()  # seek back to the first record of the batch
            await self._back_off()
            return
        self._backoff = self.options.backoff_initial_s
        await self._commit(message, len(records))

    async def _commit(self, message: KafkaMessage, records: int) -> None:
        """Commit the consumer's positions; a commit that fails or hangs is given up
        (logged and counted) rather than holding the consumer (module docstring)."""
        try:
            await asyncio.wait_for(message.ack(), self.options.commit_timeout_s)
        except (KafkaError, TimeoutError) as exc:
            timeout_s = self.options.commit_timeout_s
            error = exc if isinstance(exc, KafkaError) else CommitTimedOut(timeout_s)
            log.warning(
                "offsets not committed (the batch is applied; consuming goes on)",
                extra={"consumer": self.consumer_name, "records": records, "error": repr(error)},
            )
            if self._on_error is not None:
                self._on_error(error)

    async def _process(self, records: tuple[ConsumerRecord[Any, Any], ...]) -> None:
        deliveries: list[Delivery] = []
        for record in records:
            try:
                delivery = await redeem(decode(record), self._versions)
            except (UnsupportedEvent, VersionUnavailable) as exc:
                await self.dead_letter(record, str(exc))
            else:
                deliveries.append(delivery)
        batch = Batch(deliveries, batch_positions(records), batch_positions(records, lowest=True))
        rejections = await self._handler(batch)
        for rejection in rejections:
            await self.dead_letter(rejection.delivery.record, rejection.reason)

    async def dead_letter(self, record: ConsumerRecord[Any, Any], reason: str) -> None:
        headers = {
            k: bytes(v).decode("ascii", "replace") for k, v in record.headers or () if v is not None
        }
        headers[DLQ_REASON_HEADER] = reason[:MAX_REASON].encode("ascii", "replace").decode()
        headers[DLQ_CONSUMER_HEADER] = self.consumer_name
        await self.broker.publish(
            record.value if record.value is not None else b"",
            topic=self.options.dead_letter_topic,
            key=record.key,
            headers=headers,
        )
        log.warning(
            "record dead-lettered",
            extra={"consumer": self.consumer_name, "partition": record.partition, "reason": reason},
        )
        if self._on_dead_letter is not None:
            self._on_dead_letter(reason)

    async def _back_off(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), self._backoff)
        self._backoff = min(self._backoff * 2, self.options.backoff_max_s)
