"""Change events on the wire: every event fits the broker, whatever the resource's size.

The outbox keeps each event as plain JSON; the relay chooses its wire form when it
sends it, from one number, the broker's message limit (:class:`EventSizing`):

1. **plain** JSON when the event is at most ``compress_above`` bytes (almost every event);
2. **gzip** of that JSON (header ``polyfhir-encoding: gzip``) when it is larger and the
   compressed value fits the limit;
3. a **claim check** when even that does not fit: the event without its body
   (``resource`` null, ``resource_ref`` = ``Type/id/_history/version``, schema 1.1),
   a few hundred bytes whatever the resource's size. Consumers read that version from
   the primary (:mod:`polyfhir_bus.claim_check`, done by the batch consumer).

Deciding at send time rather than at write time means a row written before this
scheme existed (or under a larger limit) is re-encoded on its next attempt instead of
being refused forever. Compression is deterministic (no timestamp in the gzip header),
so a re-send carries the same bytes.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass

from polyfhir_bus.events import SCHEMA_VERSION, ResourceChanged, UnsupportedEvent

GZIP = "gzip"
KAFKA_DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024  # message.max.bytes / max.request.size
# Room left in a message for the key (a tenant path, a type and an id: < 600 bytes),
# the relay's headers and the record's framing.
RECORD_RESERVE_BYTES = 4 * 1024
# The smallest broker limit accepted: a claim-check event with the longest key fits.
MIN_MESSAGE_BYTES = 16 * 1024
DEFAULT_COMPRESS_ABOVE = 64 * 1024
# A consumer never inflates a value beyond this (our producer never writes one).
MAX_DECODED_BYTES = 256 * 1024 * 1024


class EventEncodingError(ValueError):
    """An outbox payload that cannot be put on the wire in any form (not an event)."""


@dataclass(frozen=True, slots=True)
class EventSizing:
    """The broker's message limit and, derived from it, when the relay compresses or
    leaves the body in the primary. Inconsistent values are refused on construction."""

    max_message_bytes: int = KAFKA_DEFAULT_MAX_MESSAGE_BYTES
    compress_above: int = DEFAULT_COMPRESS_ABOVE

    def __post_init__(self) -> None:
        if self.max_message_bytes < MIN_MESSAGE_BYTES:
            msg = (
                f"the broker's message limit ({self.max_message_bytes} bytes) is below"
                f" {MIN_MESSAGE_BYTES} bytes: too small for a change event's claim check"
            )
            raise ValueError(msg)
        if not 0 < self.compress_above <= self.value_budget:
            msg = (
                f"compress_above ({self.compress_above} bytes) must be between 1 and the"
                f" value budget ({self.value_budget} bytes = the broker's message limit"
                f" {self.max_message_bytes} minus {RECORD_RESERVE_BYTES} for key and headers)"
            )
            raise ValueError(msg)

    @classmethod
    def for_broker(cls, max_message_bytes: int) -> EventSizing:
        """Sizing derived from the broker's limit alone."""
        budget = max_message_bytes - RECORD_RESERVE_BYTES
        return cls(max_message_bytes, max(1, min(DEFAULT_COMPRESS_ABOVE, budget // 2)))

    @property
    def value_budget(self) -> int:
        """The largest record value that fits a message with its key and headers."""
        return self.max_message_bytes - RECORD_RESERVE_BYTES


@dataclass(frozen=True, slots=True)
class WireValue:
    """An event as the relay sends it."""

    value: bytes
    encoding: str | None  # the ENCODING_HEADER value; None for plain JSON
    schema: str  # the SCHEMA_HEADER value
    claim_check: bool = False


def encode_event(payload: bytes, sizing: EventSizing) -> WireValue:
    """The smallest-effort form of ``payload`` (an event's JSON) that fits ``sizing``."""
    if len(payload) <= sizing.compress_above:
        return WireValue(payload, None, schema_of(payload))
    if len(payload) <= MAX_DECODED_BYTES:  # a consumer inflates no more than that
        packed = gzip.compress(payload, compresslevel=6, mtime=0)
        if len(packed) <= sizing.value_budget:
            return WireValue(packed, GZIP, schema_of(payload))
    try:
        ticket = ResourceChanged.from_json(payload).without_body()
    except UnsupportedEvent as exc:
        raise EventEncodingError(f"the outbox payload is not an event: {exc}") from None
    value = ticket.to_json()
    if len(value) > sizing.value_budget:
        msg = f"even the claim check is {len(value)} bytes (budget {sizing.value_budget})"
        raise EventEncodingError(msg)
    return WireValue(value, None, ticket.schema_version, claim_check=True)


def decode_value(value: bytes, encoding: str | None, limit: int = MAX_DECODED_BYTES) -> bytes:
    """The event JSON of a record value; :class:`UnsupportedEvent` for what cannot be read."""
    if encoding is None:
        return value
    if encoding != GZIP:
        raise UnsupportedEvent(f"unknown encoding {encoding!r}")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(value, limit)
    except zlib.error as exc:
        raise UnsupportedEvent(f"not gzip: {exc}") from None
    if inflater.unconsumed_tail:
        raise UnsupportedEvent(f"the value inflates beyond {limit} bytes")
    if not inflater.eof:
        raise UnsupportedEvent("truncated gzip value")
    return out


def schema_of(payload: bytes) -> str:
    """An event's schema_version without a full parse (the relay wrote the JSON itself)."""
    marker = b'"schema_version":"'
    start = payload.find(marker)
    if start < 0:
        return SCHEMA_VERSION
    start += len(marker)
    end = payload.find(b'"', start)
    return payload[start:end].decode("ascii", "replace") if end > 0 else SCHEMA_VERSION
