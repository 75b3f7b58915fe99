"""What one change event becomes in the terminology store (pure).

Every event leaves its identity and version (the version guard, tombstones,
the reconciler's scan): an event of another resource type, or a delete, leaves
nothing else. A CodeSystem, ValueSet or ConceptMap leaves its definition rows;
one that cannot be indexed (a CodeSystem without ``url``) carries the reason
and is dead-lettered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from polyfhir_bus.events import ResourceChanged
from polyfhir_bus.indexing.batch import IndexedResource
from polyfhir_terminology.domain.codesystem import CodeSystemRows, code_system_rows
from polyfhir_terminology.domain.conceptmap import ConceptMapRows, concept_map_rows

Json = dict[str, Any]
TERMINOLOGY_TYPES = frozenset({"CodeSystem", "ValueSet", "ConceptMap"})


@dataclass(frozen=True, slots=True)
class ValueSetRow:
    url: str | None
    version: str | None
    name: str | None
    resource: Json  # compose (or expansion) is planned when expanded, not when stored


Definition = CodeSystemRows | ValueSetRow | ConceptMapRows


@dataclass(frozen=True, slots=True)
class TerminologyItem(IndexedResource):
    definition: Definition | None = None
    refusal: str | None = None


def _definition(resource_type: str, resource: Json) -> Definition | None:
    if resource_type == "CodeSystem":
        return code_system_rows(resource)
    if resource_type == "ValueSet":
        url = resource.get("url")
        return ValueSetRow(
            url if isinstance(url, str) else None,
            resource.get("version"),
            resource.get("name"),
            resource,
        )
    if resource_type == "ConceptMap":
        return concept_map_rows(resource)
    return None


def item_for(event: ResourceChanged) -> TerminologyItem:
    deleted = event.resource is None
    base = (
        event.tenant,
        event.resource_type,
        event.resource_id,
        event.version,
        event.last_updated,
        deleted,
    )
    if deleted or event.resource_type not in TERMINOLOGY_TYPES:
        return TerminologyItem(*base)
    assert event.resource is not None
    try:
        return TerminologyItem(*base, definition=_definition(event.resource_type, event.resource))
    except (ValueError, TypeError, AttributeError) as exc:
        return TerminologyItem(*base, refusal=f"{event.resource_type}: {exc}")
