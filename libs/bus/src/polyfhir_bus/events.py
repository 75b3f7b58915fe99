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
RESOURCE_CHANGES_TOPIC = "polyfhir.resource-changes.v1"


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
        raw = orjson.loads(data)
        return cls(
            tenant=raw["tenant"],
            resource_type=raw["resource_type"],
            resource_id=raw["resource_id"],
            version=int(raw["version"]),
            kind=ChangeKind(raw["kind"]),
            last_updated=datetime.fromisoformat(raw["last_updated"]),
            resource=raw.get("resource"),
            schema_version=raw.get("schema_version", SCHEMA_VERSION),
        )
