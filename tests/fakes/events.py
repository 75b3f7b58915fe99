"""Builders of change events and their deliveries, as the bus hands them to an indexer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from aiokafka import ConsumerRecord

from polyfhir_bus.claim_check import VersionUnavailable
from polyfhir_bus.consumer import Batch, Delivery
from polyfhir_bus.events import ChangeKind, ResourceChanged


class Events:
    """The builders as one fixture value (``ev``), for tests that take them by fixture."""


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def change(
    tenant: str,
    rid: str,
    version: int,
    resource: dict[str, Any] | None,
    resource_type: str = "Condition",
) -> ResourceChanged:
    kind = ChangeKind.DELETED if resource is None else ChangeKind.UPDATED
    body = None if resource is None else {"resourceType": resource_type, "id": rid, **resource}
    return ResourceChanged(tenant, resource_type, rid, version, kind, datetime.now(UTC), body)


def narrative(text: str, **more: Any) -> dict[str, Any]:
    div = f'<div xmlns="http://www.w3.org/1999/xhtml"><p>{text}</p></div>'
    return {"text": {"status": "generated", "div": div}, **more}


def delivery(event: ResourceChanged, partition: int = 0, position: int | None = None) -> Delivery:
    value = event.to_json()
    record: ConsumerRecord[Any, Any] = ConsumerRecord(
        "test", partition, position or 0, 0, 0, event.key.encode(), value, None, 0, len(value), ()
    )
    return Delivery(event, partition, position or 0, position, record)


def batch_at(*deliveries: Delivery) -> Batch:
    """The deliveries as one batch, with the highest position per partition."""
    positions: dict[int, int] = {}
    for d in deliveries:
        if d.position is not None:
            positions[d.partition] = max(positions.get(d.partition, -1), d.position)
    return Batch(list(deliveries), positions)


class VersionsInMemory:
    """A primary's versions for claim checks (polyfhir_bus.claim_check.ResourceVersions)."""

    def __init__(self) -> None:
        self.bodies: dict[str, dict[str, Any]] = {}
        self.asked: list[str] = []
        self.down = False

    def keep(self, event: ResourceChanged) -> None:
        assert event.resource is not None
        self.bodies[event.version_ref] = event.resource

    async def body_of(self, event: ResourceChanged) -> dict[str, Any]:
        self.asked.append(event.version_ref)
        if self.down:
            raise ConnectionError("the primary is away")
        if event.version_ref not in self.bodies:
            raise VersionUnavailable(f"{event.version_ref}: no such version")
        return self.bodies[event.version_ref]


for _builder in (unique, change, narrative, delivery):
    setattr(Events, _builder.__name__, staticmethod(_builder))
