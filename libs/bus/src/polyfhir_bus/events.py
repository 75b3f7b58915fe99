"""The change-event contract: what the primary store publishes for every write.

Version 1 of ``polyfhir.resource-changes``. One event per committed resource
version; the Kafka key is :func:`event_key` so every version of one resource
lands in one partition, in order. Consumers apply events idempotently, guarded
by ``version``: an event whose version is not newer than what they hold is a
duplicate or stale and is skipped. A delete is a tombstone that carries its
version and no resource.

An event too large for the broker travels without its body (schema 1.1, a *claim
check*): ``resource`` is null and ``resource_ref`` names the version
(``Patient/123/_history/2``) for the consumer to read from the primary
(:mod:`polyfhir_bus.claim_check`; the wire encoding is :mod:`polyfhir_bus.codec`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson

SCHEMA_VERSION = "1.0"
CLAIM_CHECK_SCHEMA_VERSION = "1.1"  # 1.0 + resource_ref (the body is left in the primary)
SCHEMA_MAJOR = 1
RESOURCE_CHANGES_TOPIC = "polyfhir.resource-changes.v1"
DEAD_LETTER_TOPIC = "polyfhir.resource-changes.dlq.v1"

# Kafka record headers set by the outbox relay (ASCII values).
POSITION_HEADER = "polyfhir-position"  # gapless, increasing per partition in publish order
SCHEMA_HEADER = "polyfhir-schema"  # the event's schema_version, readable without parsing
ENCODING_HEADER = "polyfhir-encoding"  # "gzip" when the value is compressed; absent: plain JSON
# Headers a consumer adds when it dead-letters a record.
DLQ_REASON_HEADER = "polyfhir-dlq-reason"
DLQ_CONSUMER_HEADER = "polyfhir-dlq-consumer"


class UnsupportedEvent(ValueError):
    """A record a consumer cannot apply: unknown major schema version or a malformed payload.

    Consumers send such records to :data:`DEAD_LETTER_TOPIC` with the reason; they
    never drop them silently and never stop on them.
    """


class ChangeKind(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"


def event_key(tenant: str, resource_type: str, resource_id: str) -> str:
    return f"{tenant}|{resource_type}|{resource_id}"


@dataclass(frozen=True, slots=True)
class ResourceChanged:
    """A committed change of one resource (past tense: it has happened)."""

    tenant: str
    resource_type: str
    resource_id: str
    version: int
    kind: ChangeKind
    last_updated: datetime
    resource: dict[str, Any] | None
    schema_version: str = SCHEMA_VERSION
    # set (and ``resource`` None) when the body was left in the primary: a claim check
    resource_ref: str | None = None

    @property
    def key(self) -> str:
        return event_key(self.tenant, self.resource_type, self.resource_id)

    @property
    def version_ref(self) -> str:
        """``Type/id/_history/version``: this version in the primary."""
        return f"{self.resource_type}/{self.resource_id}/_history/{self.version}"

    def without_body(self) -> ResourceChanged:
        """The claim check of this event: no resource, a reference to its version instead."""
        return replace(
            self,
            resource=None,
            resource_ref=self.version_ref,
            schema_version=CLAIM_CHECK_SCHEMA_VERSION,
        )

    def with_body(self, resource: dict[str, Any]) -> ResourceChanged:
        """The claim check redeemed: the event as if it had carried ``resource``."""
        return replace(self, resource=resource, resource_ref=None, schema_version=SCHEMA_VERSION)

    def to_json(self) -> bytes:
        fields: dict[str, Any] = {
            "schema_version": self.schema_version,
            "tenant": self.tenant,
            "resource_type": self.resource_type,
            "resource_id": self.resource_id,
            "version": self.version,
            "kind": self.kind.value,
            "last_updated": self.last_updated.isoformat(),
            "resource": self.resource,
        }
        if self.resource_ref is not None:
            fields["resource_ref"] = self.resource_ref
        return orjson.dumps(fields)

    @classmethod
    def from_json(cls, data: bytes | str) -> ResourceChanged:
        """Decode one event; :class:`UnsupportedEvent` for anything a v1 consumer cannot apply."""
        try:
            raw = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise UnsupportedEvent(f"not JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise UnsupportedEvent("the payload is not a JSON object")
        schema = str(raw.get("schema_version", SCHEMA_VERSION))
        major = schema.split(".", 1)[0]
        if major != str(SCHEMA_MAJOR):
            raise UnsupportedEvent(
                f"schema_version {schema!r}: this consumer reads {SCHEMA_MAJOR}.x"
            )
        try:
            event = cls(
                tenant=str(raw["tenant"]),
                resource_type=str(raw["resource_type"]),
                resource_id=str(raw["resource_id"]),
                version=int(raw["version"]),
                kind=ChangeKind(raw["kind"]),
                last_updated=datetime.fromisoformat(raw["last_updated"]),
                resource=raw.get("resource"),
                schema_version=schema,
                resource_ref=_optional_str(raw.get("resource_ref")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise UnsupportedEvent(f"malformed event: {exc!r}") from None
        _check(event)
        return event


def _optional_str(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    msg = f"expected a string, got {type(value).__name__}"
    raise TypeError(msg)


def _check(event: ResourceChanged) -> None:
    if event.version < 1:
        raise UnsupportedEvent(f"version must be >= 1, got {event.version}")
    if event.resource is not None and not isinstance(event.resource, dict):
        raise UnsupportedEvent("resource must be a JSON object")
    if event.resource_ref is not None:
        if event.kind is ChangeKind.DELETED or event.resource is not None:
            raise UnsupportedEvent("resource_ref stands for the body of a created/updated event")
        if event.resource_ref != event.version_ref:
            raise UnsupportedEvent(f"resource_ref {event.resource_ref!r} is not this version")
        return
    if (event.kind is ChangeKind.DELETED) != (event.resource is None):
        raise UnsupportedEvent("a delete carries no resource; other kinds carry one")
