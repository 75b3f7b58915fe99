"""The change-event contract: what the primary store publishes for every write.

Version 1 of ``polyfhir.resource-changes``. One event per committed resource
version; the Kafka key is :func:`event_key` so every version of one resource
lands in one partition, in order. Consumers apply events idempotently, guarded
by ``version``: an event whose version is not newer than what they hold is a
duplicate or stale and is skipped. A delete is a tombstone that carries its
version and no resource.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson

SCHEMA_VERSION = "1.0"
SCHEMA_MAJOR = 1
RESOURCE_CHANGES_TOPIC = "polyfhir.resource-changes.v1"
DEAD_LETTER_TOPIC = "polyfhir.resource-changes.dlq.v1"

# Kafka record headers set by the outbox relay (ASCII values).
POSITION_HEADER = "polyfhir-position"  # gapless, increasing per partition in publish order
SCHEMA_HEADER = "polyfhir-schema"  # the event's schema_version, readable without parsing
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

    @property
    def key(self) -> str:
        return event_key(self.tenant, self.resource_type, self.resource_id)

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "schema_version": self.schema_version,
                "tenant": self.tenant,
                "resource_type": self.resource_type,
                "resource_id": self.resource_id,
                "version": self.version,
                "kind": self.kind.value,
                "last_updated": self.last_updated.isoformat(),
                "resource": self.resource,
            }
        )

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
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise UnsupportedEvent(f"malformed event: {exc!r}") from None
        if event.version < 1:
            raise UnsupportedEvent(f"version must be >= 1, got {event.version}")
        if (event.kind is ChangeKind.DELETED) != (event.resource is None):
            raise UnsupportedEvent("a delete carries no resource; other kinds carry one")
        if event.resource is not None and not isinstance(event.resource, dict):
            raise UnsupportedEvent("resource must be a JSON object")
        return event
