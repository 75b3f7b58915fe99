"""One index document per resource: its latest version, or a tombstone (pure).

Documents of every tenant live in one index per prefix (``<prefix>-resources``),
each carrying its ``tenant`` as a keyword field that every query filters on;
the document id is the event key ``tenant|type|id``. One shared index keeps the
shard count independent of the number of tenants, and ``drop_tenant`` is a
delete-by-query on that field.

A document holds the fields the index answers with: ``narrative`` (``_text``),
``content`` (``_content``), and per search parameter ``token_text.<param>``
(``[param]:text`` on a token: CodeableConcept.text, Coding.display, the
Identifier type text, ContactPoint use — the same values the primary stores in
its token text column) and ``string.<param>`` (``[param]:text`` on a string
parameter). A delete is a tombstone document with ``deleted=true`` and its
version, so that an older version arriving later cannot resurrect the resource.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from polyfhir_bus.events import ChangeKind, ResourceChanged
from polyfhir_bus.indexing.batch import IndexedResource
from polyfhir_core.indexing import extract_index_values
from polyfhir_core.registry import SearchParameterRegistry, SearchParamType
from polyfhir_core.search.fulltext import content_text, narrative_text

TOKEN_TEXT = "token_text"  # noqa: S105 (a field name, not a secret)
STRING = "string"
PARAM_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


@dataclass(frozen=True, slots=True)
class IndexDocument(IndexedResource):
    """What the index holds for one resource after applying one event."""

    text: dict[str, Any] = field(default_factory=dict)  # narrative, content, token_text, string

    @property
    def doc_id(self) -> str:
        return self.event_key

    def source(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "type": self.resource_type,
            "rid": self.resource_id,
            "version": self.version,
            "deleted": self.deleted,
            "last_updated": self.last_updated.isoformat(),
            **self.text,
        }


def text_registry(registry: SearchParameterRegistry) -> SearchParameterRegistry:
    """Only the token and string parameters: the index needs no other rows, and
    evaluating only those is several times cheaper than a full extraction."""
    kinds = (SearchParamType.TOKEN, SearchParamType.STRING)
    return SearchParameterRegistry([d for d in registry.definitions() if d.type in kinds])


def _parameter_texts(
    resource: dict[str, Any], registry: SearchParameterRegistry
) -> dict[str, dict[str, list[str]]]:
    values = extract_index_values(resource, registry)
    tokens: dict[str, list[str]] = {}
    for token in values.tokens:
        if token.text and PARAM_NAME.match(token.param):
            tokens.setdefault(token.param, []).append(token.text)
    strings: dict[str, list[str]] = {}
    for string in values.strings:
        if PARAM_NAME.match(string.param):
            strings.setdefault(string.param, []).append(string.exact or string.value)
    # a parameter whose rows are others' (``combo-code``: ``code`` and
    # ``component-code``; ``Storage``) has no rows: its texts are theirs
    rtype = resource.get("resourceType")
    derived = registry.derived(rtype) if isinstance(rtype, str) else {}
    for code, stored in derived.items():
        if stored.target_type is not None or not PARAM_NAME.match(code):
            continue
        for texts_of in (tokens, strings):
            texts = [t for source in stored.params for t in texts_of.get(source, ())]
            if texts:
                texts_of[code] = texts
    return {TOKEN_TEXT: tokens, STRING: strings}


def document_for(event: ResourceChanged, registry: SearchParameterRegistry) -> IndexDocument:
    """The document an event leaves in the index (a tombstone for a delete)."""
    resource = event.resource
    if event.kind is ChangeKind.DELETED or resource is None:
        text: dict[str, Any] = {}
    else:
        text = {
            "narrative": narrative_text(resource),
            "content": content_text(resource),
            **_parameter_texts(resource, registry),
        }
    return IndexDocument(
        tenant=event.tenant,
        resource_type=event.resource_type,
        resource_id=event.resource_id,
        version=event.version,
        last_updated=event.last_updated,
        deleted=event.kind is ChangeKind.DELETED,
        text=text,
    )
