"""Change-event contract, topic names and codec shared by the primary store and the indexers."""

from polyfhir_bus.events import (
    RESOURCE_CHANGES_TOPIC,
    SCHEMA_VERSION,
    ChangeKind,
    ResourceChanged,
    event_key,
)

__all__ = ["RESOURCE_CHANGES_TOPIC", "SCHEMA_VERSION", "ChangeKind", "ResourceChanged", "event_key"]
