"""Fixtures shared by integration areas (engines come from ``polyfhir_testing``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaProducer

from polyfhir_bus.kafka import create_producer
from polyfhir_engines.tansu import LocalKafka


@pytest.fixture
async def producer(kafka_broker: LocalKafka) -> AsyncIterator[AIOKafkaProducer]:
    """A started producer on the session's broker (what an indexer's tests publish with)."""
    p = create_producer(kafka_broker.bootstrap)
    await p.start()
    try:
        yield p
    finally:
        await p.stop()
