"""Fixtures for the outbox relay tests: a broker of the test's own, a primary store
with the relay on (each backend, a fresh database per test), and a topic reader."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from polyfhir_bus.events import (
    ENCODING_HEADER,
    POSITION_HEADER,
    RESOURCE_CHANGES_TOPIC,
    SCHEMA_HEADER,
)
from polyfhir_engines.tansu import LocalKafka
from polyfhir_primary.bootstrap import PrimaryStoreApp, bootstrap
from polyfhir_primary.settings import PrimarySettings

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[LocalKafka]:
    """A Tansu broker of the test's own (tests here stop and restart it, and count positions)."""
    with LocalKafka(log_dir=tmp_path) as kafka:
        yield kafka


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/primary.db"
    server = request.getfixturevalue("postgres_server")
    return str(server.create_database(f"relay_{uuid.uuid4().hex[:10]}"))


StartStore = Callable[..., Any]


@pytest.fixture
async def start_store(database_url: str) -> AsyncIterator[StartStore]:
    """``await start_store(bootstrap)``: a primary store with the relay on; closed after the test."""
    apps: list[PrimaryStoreApp] = []

    async def start(kafka_bootstrap: str, **overrides: Any) -> PrimaryStoreApp:
        settings = PrimarySettings(
            primary_url=database_url,
            kafka_bootstrap=kafka_bootstrap,
            relay_poll_ms=200,
            **overrides,
        )
        app = await bootstrap(settings)
        apps.append(app)
        return app

    yield start
    for app in apps:
        await app.close()


async def eventually(check: Callable[[], Any], what: str, within: float = 60.0) -> Any:
    """Poll ``check`` (sync or async) until it returns something truthy, within ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@dataclass(frozen=True, slots=True)
class Record:
    partition: int
    offset: int
    key: str
    value: bytes
    position: int
    schema: str
    encoding: str | None = None  # the polyfhir-encoding header (gzip), None for plain JSON


async def read_topic(bootstrap: str, expected: int, within: float = 60.0) -> list[Record]:
    """Every record of the change topic from the beginning, once at least ``expected`` arrived."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:

        async def known_partitions() -> set[int] | None:
            await consumer.topics()  # refreshes metadata (all topics: creates nothing)
            found: set[int] | None = consumer.partitions_for_topic(RESOURCE_CHANGES_TOPIC)
            return found

        partitions = await eventually(known_partitions, "topic metadata")
        consumer.assign([TopicPartition(RESOURCE_CHANGES_TOPIC, p) for p in sorted(partitions)])
        await consumer.seek_to_beginning()
        out: list[Record] = []
        deadline = time.monotonic() + within
        while len(out) < expected and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            for tp, messages in batches.items():
                for m in messages:
                    headers = dict(m.headers)
                    assert m.key is not None and m.value is not None
                    out.append(
                        Record(
                            tp.partition,
                            m.offset,
                            m.key.decode(),
                            m.value,
                            int(headers[POSITION_HEADER]),
                            headers[SCHEMA_HEADER].decode(),
                            _text(headers.get(ENCODING_HEADER)),
                        )
                    )
        return sorted(out, key=lambda r: (r.partition, r.offset))
    finally:
        await consumer.stop()


def _text(header: bytes | None) -> str | None:
    return None if header is None else header.decode()
