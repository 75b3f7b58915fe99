"""Events on the wire: every event fits the broker's limit whatever the resource's size
(plain, gzip, claim check), and a consumer reads each form back."""

from __future__ import annotations

import random
import string
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from polyfhir_bus.codec import (
    GZIP,
    MIN_MESSAGE_BYTES,
    EventEncodingError,
    EventSizing,
    decode_value,
    encode_event,
)
from polyfhir_bus.events import (
    CLAIM_CHECK_SCHEMA_VERSION,
    SCHEMA_VERSION,
    ChangeKind,
    ResourceChanged,
    UnsupportedEvent,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
LIMIT = EventSizing()  # Kafka's default: 1 MiB


def _patient(family: str, version: int = 3) -> ResourceChanged:
    body: dict[str, Any] = {"resourceType": "Patient", "id": "p1", "name": [{"family": family}]}
    return ResourceChanged("acme", "Patient", "p1", version, ChangeKind.UPDATED, T0, body)


def _noise(size: int) -> str:
    """Text that compresses badly (random letters and digits)."""
    rng = random.Random(size)
    return "".join(rng.choices(string.ascii_letters + string.digits, k=size))


def test_a_small_event_goes_as_it_is() -> None:
    payload = _patient("Lovelace").to_json()
    wire = encode_event(payload, LIMIT)
    assert (wire.value, wire.encoding, wire.schema, wire.claim_check) == (
        payload,
        None,
        SCHEMA_VERSION,
        False,
    )
    assert decode_value(wire.value, wire.encoding) == payload


def test_a_large_compressible_event_goes_gzip_and_reads_back() -> None:
    payload = _patient("x" * 1_100_000).to_json()  # the 1.1 MB Patient
    wire = encode_event(payload, LIMIT)
    assert wire.encoding == GZIP
    assert len(wire.value) <= LIMIT.value_budget
    assert decode_value(wire.value, wire.encoding) == payload
    assert encode_event(payload, LIMIT).value == wire.value  # a re-send is byte-identical


def test_an_event_that_does_not_fit_even_compressed_is_a_claim_check() -> None:
    event = _patient(_noise(1_500_000))  # ~1.1 MB even compressed
    wire = encode_event(event.to_json(), LIMIT)
    assert wire.claim_check
    assert (wire.encoding, wire.schema) == (None, CLAIM_CHECK_SCHEMA_VERSION)
    assert len(wire.value) < 1024
    ticket = ResourceChanged.from_json(decode_value(wire.value, wire.encoding))
    assert ticket.resource is None
    assert ticket.resource_ref == "Patient/p1/_history/3"
    assert ticket.with_body(event.resource or {}) == event


def test_the_form_follows_the_broker_limit() -> None:
    payload = _patient(_noise(100_000)).to_json()
    assert encode_event(payload, EventSizing.for_broker(1024 * 1024)).encoding == GZIP
    assert encode_event(payload, EventSizing.for_broker(MIN_MESSAGE_BYTES)).claim_check


def test_a_payload_that_is_no_event_cannot_be_encoded_once_too_large() -> None:
    with pytest.raises(EventEncodingError, match="not an event"):
        encode_event(b'{"junk": "' + _noise(2_000_000).encode() + b'"}', LIMIT)


@pytest.mark.parametrize(
    ("limit", "compress_above", "message"),
    [
        (8 * 1024, 1024, "too small for a change event's claim check"),
        (1024 * 1024, 1024 * 1024, "must be between 1 and the value budget"),
        (1024 * 1024, 0, "must be between 1 and the value budget"),
    ],
)
def test_inconsistent_sizing_is_refused(limit: int, compress_above: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EventSizing(limit, compress_above)


def test_a_consumer_refuses_what_it_cannot_inflate() -> None:
    wire = encode_event(_patient("y" * 200_000).to_json(), LIMIT)
    with pytest.raises(UnsupportedEvent, match="inflates beyond"):
        decode_value(wire.value, GZIP, limit=100_000)
    with pytest.raises(UnsupportedEvent, match="not gzip"):
        decode_value(b"plain bytes", GZIP)
    with pytest.raises(UnsupportedEvent, match="truncated"):
        decode_value(wire.value[: len(wire.value) // 2], GZIP)
    with pytest.raises(UnsupportedEvent, match="unknown encoding"):
        decode_value(wire.value, "br")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"resource_ref": "Patient/other/_history/3"}, "is not this version"),
        ({"kind": "deleted"}, "created/updated"),
        ({"resource_ref": 7}, "malformed"),
    ],
)
def test_a_claim_check_must_name_its_own_version(change: dict[str, Any], reason: str) -> None:
    ticket = _patient("z").without_body()
    raw = {**orjson.loads(ticket.to_json()), **change}
    with pytest.raises(UnsupportedEvent, match=reason):
        ResourceChanged.from_json(orjson.dumps(raw))
