"""The broker's limit is one setting; everything the relay sizes derives from it, and an
inconsistent pair is refused when the primary store starts."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from polyfhir_bus.codec import EventSizing
from polyfhir_bus.kafka import ProducerSettings
from polyfhir_primary.settings import PrimarySettings


def test_the_default_fits_kafkas_default_limit() -> None:
    assert PrimarySettings().event_sizing() == EventSizing(1024 * 1024, 64 * 1024)


def test_the_compression_threshold_follows_a_small_limit() -> None:
    sizing = PrimarySettings(kafka_max_message_bytes=16 * 1024).event_sizing()
    assert sizing.compress_above <= sizing.value_budget < 16 * 1024


def test_a_limit_too_small_for_a_claim_check_is_refused() -> None:
    with pytest.raises(ValidationError, match="kafka_max_message_bytes"):
        PrimarySettings(kafka_max_message_bytes=8 * 1024)


def test_a_compression_threshold_the_limit_cannot_hold_is_refused() -> None:
    with pytest.raises(ValidationError, match="POLYFHIR_KAFKA_MAX_MESSAGE_BYTES"):
        PrimarySettings(kafka_max_message_bytes=64 * 1024, relay_compress_above_bytes=100_000)


@pytest.mark.parametrize("limit", [16 * 1024, 1024 * 1024, 8 * 1024 * 1024])
def test_the_producer_never_builds_a_request_or_batch_above_the_limit(limit: int) -> None:
    producer = ProducerSettings.for_broker(limit)
    assert producer.max_request_size == limit
    assert producer.max_batch_size <= limit
