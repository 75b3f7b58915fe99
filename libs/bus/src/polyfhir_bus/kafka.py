"""Kafka plumbing for the change stream: producer settings, topic creation, a publisher.

Producers wait for every in-sync replica (``acks="all"``). The idempotent
producer stays off: the brokers we run locally (Tansu) do not offer it, and
the outbox relay does not need it — delivery is at-least-once, every re-send
carries the same position, and consumers apply events under a version guard.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    CorruptRecordException,
    InvalidTimestampError,
    KafkaConnectionError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.protocol.metadata import MetadataRequest

from polyfhir_bus.codec import KAFKA_DEFAULT_MAX_MESSAGE_BYTES, EventEncodingError
from polyfhir_bus.events import (
    DEAD_LETTER_TOPIC,
    ENCODING_HEADER,
    POSITION_HEADER,
    RESOURCE_CHANGES_TOPIC,
    SCHEMA_HEADER,
)
from polyfhir_bus.security import KafkaSecurity
from polyfhir_bus.tls_diagnosis import KafkaTlsRefused, tls_refusal

log = logging.getLogger(__name__)
_TOPIC_EXISTS = 36
_UNKNOWN_TOPIC = 3  # UNKNOWN_TOPIC_OR_PARTITION

# Refusals of one record that no retry can change: the record is too large or invalid
# (the client's own size check raises MessageSizeTooLargeError too), or the outbox
# payload is no event. Everything else (broker away, timeouts, leaders moving,
# authorisation or topic configuration an operator can fix) is transient.
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
    CorruptRecordException,  # also InvalidMessageError (the same error code)
    InvalidTimestampError,
    EventEncodingError,
)


def is_permanent(error: BaseException) -> bool:
    """Whether the broker will refuse this record whatever happens (dead-letter it)."""
    return isinstance(error, PERMANENT_ERRORS)


def key_partition(key: str, partitions: int) -> int:
    """The partition aiokafka's (and the Java client's) default partitioner picks for ``key``.

    The relay picks each event's partition itself, before the send, because it gives the
    event a position in that partition first; using the library's partitioner keeps the
    topic laid out as any other Kafka producer would lay it out.
    """
    if partitions < 1:
        msg = f"a topic has at least one partition, got {partitions}"
        raise ValueError(msg)
    everyone = list(range(partitions))
    return int(DefaultPartitioner()(key.encode(), everyone, everyone))


@dataclass(frozen=True, slots=True)
class ProducerSettings:
    """How the relay's producer batches: a short linger lets a burst share requests."""

    linger_ms: int = 5
    max_batch_size: int = 1024 * 1024
    request_timeout_ms: int = 10_000
    client_id: str = "polyfhir-outbox-relay"
    # the broker's message limit (message.max.bytes); the relay's EventSizing derives from
    # the same setting, so every event it sends fits
    max_request_size: int = KAFKA_DEFAULT_MAX_MESSAGE_BYTES

    @classmethod
    def for_broker(cls, max_message_bytes: int) -> ProducerSettings:
        """Requests and batches within the broker's message limit: a batch of several
        records must fit too, or the broker would refuse small records together (and the
        relay would dead-letter them all)."""
        return cls(
            max_request_size=max_message_bytes,
            max_batch_size=min(cls().max_batch_size, max_message_bytes),
        )


def create_producer(
    bootstrap: str,
    settings: ProducerSettings | None = None,
    security: KafkaSecurity | None = None,
) -> AIOKafkaProducer:
    """A producer that waits for all replicas; not idempotent (see the module docstring)."""
    s = settings or ProducerSettings()
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        **(security or KafkaSecurity()).aiokafka_options(),
        client_id=s.client_id,
        acks="all",
        enable_idempotence=False,
        linger_ms=s.linger_ms,
        max_batch_size=s.max_batch_size,
        max_request_size=s.max_request_size,
        request_timeout_ms=s.request_timeout_ms,
    )


def create_admin(
    bootstrap: str, request_timeout_ms: int = 10_000, security: KafkaSecurity | None = None
) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(
        bootstrap_servers=bootstrap,
        **(security or KafkaSecurity()).aiokafka_options(),
        client_id="polyfhir-admin",
        request_timeout_ms=request_timeout_ms,
    )


async def ensure_topics(
    bootstrap: str,
    partitions: int,
    topics: Iterable[str] = (RESOURCE_CHANGES_TOPIC, DEAD_LETTER_TOPIC),
    security: KafkaSecurity | None = None,
) -> int:
    """Create the missing ``topics`` with ``partitions`` partitions each; return how many
    partitions the first topic (the change stream) really has.

    Topics are created explicitly before anything asks for their metadata, because
    brokers that auto-create topics would otherwise pick their own partition count.
    """
    names = list(topics)
    admin = create_admin(bootstrap, security=security)
    try:
        await admin.start()
    except KafkaConnectionError as exc:
        await admin.close()
        reason = await tls_refusal(bootstrap, security or KafkaSecurity())
        if reason is None:
            raise
        raise KafkaTlsRefused(reason) from exc
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(n, partitions, 1) for n in names if n not in existing]
        if missing:
            response = await admin.create_topics(missing)
            for topic, code, message in response.topic_errors:
                if code not in (0, _TOPIC_EXISTS):
                    msg = f"cannot create topic {topic}: {message} (error {code})"
                    raise RuntimeError(msg)
            log.info("created topics %s", [t.name for t in missing])
        [described] = await admin.describe_topics([names[0]])
        return len(described["partitions"])
    finally:
        await admin.close()


@dataclass(frozen=True, slots=True)
class OutgoingRecord:
    """One record as the relay sends it: explicit partition, key and relay headers."""

    key: str
    value: bytes
    partition: int
    position: int
    schema: str
    encoding: str | None = None  # polyfhir_bus.codec: "gzip" or None (plain JSON)


class TopicGone(Exception):
    """The broker does not list the topic (any more): a memory-only broker restarted empty.

    Nothing may be sent then. A producer that kept its metadata across the broker's
    restart would still send, and Tansu (memory storage) accepts those records into a
    topic it does not list: fetches see them, but every consumer's offset commit is
    refused (``UNKNOWN_TOPIC_OR_PARTITION``) until the topic is created, and creating
    it then makes the first sends to those partitions fail. The relay treats this as
    a transient failure: its next attempt prepares the publisher, which creates the
    topic with the configured partition count, then sends.
    """

    def __init__(self, topic: str) -> None:
        super().__init__(f"the broker does not list topic {topic} (restarted empty?)")


class KafkaPublisher:
    """Sends records to one topic and reports, per record, whether the broker acknowledged it.

    ``prepare`` (re)creates missing topics and (re)starts the producer; the relay calls it
    before its first send and after every failure, so a broker that lost its topics
    (a restart of an in-memory broker) gets them back with the configured partition count.
    ``publish`` first asks the broker whether it still lists the topic (:class:`TopicGone`
    otherwise), because the producer's own retries cross a quick restart without a failure
    the relay could see.
    """

    def __init__(
        self,
        bootstrap: str,
        partitions: int,
        topic: str = RESOURCE_CHANGES_TOPIC,
        settings: ProducerSettings | None = None,
        security: KafkaSecurity | None = None,
    ) -> None:
        self._bootstrap, self._partitions, self.topic = bootstrap, partitions, topic
        self._settings = settings or ProducerSettings()
        self._security = security or KafkaSecurity()
        self._producer: AIOKafkaProducer | None = None

    async def prepare(self) -> int:
        topics = [self.topic]
        if self.topic == RESOURCE_CHANGES_TOPIC:
            topics.append(DEAD_LETTER_TOPIC)
        count = await ensure_topics(self._bootstrap, self._partitions, topics, self._security)
        if self._producer is None:
            producer = create_producer(self._bootstrap, self._settings, self._security)
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
        return count

    async def publish(self, records: Sequence[OutgoingRecord]) -> list[BaseException | None]:
        """Send every record (in order per partition); ``None`` where acknowledged.

        :class:`TopicGone` (nothing sent) when the broker does not list the topic.
        """
        if self._producer is None:
            msg = "publisher not prepared"
            raise RuntimeError(msg)
        await self._require_topic(self._producer)
        pending: list[asyncio.Future[object] | BaseException] = []
        for r in records:
            last = pending[-1] if pending else None
            if isinstance(last, BaseException) and not is_permanent(last):
                pending.append(last)  # the producer is unusable: do not wait for each
                continue
            headers = [
                (POSITION_HEADER, str(r.position).encode()),
                (SCHEMA_HEADER, r.schema.encode()),
            ]
            if r.encoding is not None:
                headers.append((ENCODING_HEADER, r.encoding.encode()))
            try:
                pending.append(
                    await self._producer.send(
                        self.topic,
                        r.value,
                        key=r.key.encode(),
                        partition=r.partition,
                        headers=headers,
                    )
                )
            except Exception as exc:
                pending.append(exc)
        out: list[BaseException | None] = []
        for item in pending:
            if isinstance(item, BaseException):
                out.append(item)
                continue
            try:
                await item
            except Exception as exc:
                out.append(exc)
            else:
                out.append(None)
        return out

    async def _require_topic(self, producer: AIOKafkaProducer) -> None:
        """Raise :class:`TopicGone` unless the broker lists the topic: one metadata request
        for this topic on the producer's connection, auto-creation off (a broker that
        created it here would pick its own partition count); ``KafkaError`` when the
        broker cannot answer."""
        client = producer.client
        node = client.get_random_node()
        if node is None:
            raise KafkaConnectionError("no broker known to ask for the topic")
        request = MetadataRequest([self.topic], allow_auto_topic_creation=False)
        response = await client.send(node, request)
        # every version's topic entry starts with (error_code, name, ...)
        if any(t[0] == _UNKNOWN_TOPIC and t[1] == self.topic for t in response.topics):
            raise TopicGone(self.topic)

    async def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()
