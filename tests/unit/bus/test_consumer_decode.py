"""Decoding records in the batch consumer (unit): what is applied, what is dead-lettered."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import ConsumerRecord

from fakes.events import VersionsInMemory
from polyfhir_bus.claim_check import VersionUnavailable
from polyfhir_bus.codec import GZIP, EventSizing, encode_event
from polyfhir_bus.consumer import batch_positions, decode, redeem
from polyfhir_bus.events import (
    ENCODING_HEADER,
    POSITION_HEADER,
    ChangeKind,
    ResourceChanged,
    UnsupportedEvent,
)

pytestmark = pytest.mark.unit

EVENT = ResourceChanged(
    "t1", "Patient", "p1", 2, ChangeKind.UPDATED, datetime(2026, 1, 1, tzinfo=UTC),
    {"resourceType": "Patient", "id": "p1"},
)  # fmt: skip


def _record(value: bytes | None, partition: int = 0, position: bytes | None = None) -> Any:
    headers = () if position is None else ((POSITION_HEADER, position),)
    return ConsumerRecord("topic", partition, 7, 0, 0, b"k", value, None, 1, 1, headers)


def test_a_record_decodes_with_its_position() -> None:
    delivery = decode(_record(EVENT.to_json(), 2, b"41"))
    assert delivery.event == EVENT
    assert (delivery.partition, delivery.offset, delivery.position) == (2, 7, 41)
    assert decode(_record(EVENT.to_json())).position is None


@pytest.mark.parametrize(
    ("value", "position", "reason"),
    [
        (b"{not json", None, "not JSON"),
        (None, None, "no value"),
        (b'{"schema_version": "2.0"}', None, "schema_version"),
        (EVENT.to_json(), b"x1", "is not a number"),
    ],
)
def test_records_a_v1_consumer_cannot_apply_are_unsupported(
    value: bytes | None, position: bytes | None, reason: str
) -> None:
    with pytest.raises(UnsupportedEvent, match=reason):
        decode(_record(value, position=position))


def test_batch_positions_count_every_record() -> None:
    records = (
        _record(EVENT.to_json(), 0, b"3"),
        _record(b"poison", 0, b"5"),  # dead-lettered, still handled
        _record(EVENT.to_json(), 1, b"2"),
        _record(EVENT.to_json(), 1, b"bad"),
        _record(EVENT.to_json(), 2),
    )
    assert batch_positions(records) == {0: 5, 1: 2}


def test_a_gzip_record_decodes_like_a_plain_one() -> None:
    big = ResourceChanged(
        "t1", "Patient", "p1", 2, ChangeKind.UPDATED, datetime(2026, 1, 1, tzinfo=UTC),
        {"resourceType": "Patient", "id": "p1", "name": [{"family": "x" * 300_000}]},
    )  # fmt: skip
    wire = encode_event(big.to_json(), EventSizing())
    assert wire.encoding == GZIP
    record = ConsumerRecord(
        "topic", 0, 7, 0, 0, b"k", wire.value, None, 1, 1, ((ENCODING_HEADER, b"gzip"),)
    )
    assert decode(record).event == big


async def test_a_claim_check_is_redeemed_from_the_primary_before_the_handler_sees_it() -> None:
    primary = VersionsInMemory()
    primary.keep(EVENT)
    ticket = decode(_record(EVENT.without_body().to_json()))
    assert ticket.event.resource is None
    redeemed = await redeem(ticket, primary)
    assert redeemed.event == EVENT
    assert primary.asked == ["Patient/p1/_history/2"]
    plain = decode(_record(EVENT.to_json()))
    assert await redeem(plain, primary) is plain  # whole events need no call
    assert len(primary.asked) == 1


async def test_a_claim_check_the_primary_cannot_redeem() -> None:
    primary = VersionsInMemory()
    ticket = decode(_record(EVENT.without_body().to_json()))
    with pytest.raises(VersionUnavailable, match="no such version"):
        await redeem(ticket, primary)  # dead-lettered by the consumer
    with pytest.raises(UnsupportedEvent, match="no primary to read"):
        await redeem(ticket, None)
    primary.keep(EVENT)
    primary.down = True
    with pytest.raises(ConnectionError):  # transient: the batch is retried
        await redeem(ticket, primary)
