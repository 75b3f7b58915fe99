"""Decoding records in the batch consumer (unit): what is applied, what is dead-lettered."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import ConsumerRecord

from polyfhir_bus.consumer import batch_positions, decode
from polyfhir_bus.events import POSITION_HEADER, ChangeKind, ResourceChanged, UnsupportedEvent

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
