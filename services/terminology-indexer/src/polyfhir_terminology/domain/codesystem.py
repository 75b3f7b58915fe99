"""A CodeSystem resource as rows: concepts, designations, properties and the is-a closure (pure).

Concepts come from the nested ``concept`` tree. ``inactive`` is read from the
properties ``inactive`` (boolean) and ``status`` (``retired`` / ``inactive``);
``abstract`` from ``notSelectable``. Hierarchy edges come from nesting and from
the ``parent`` and ``subsumedBy`` properties; the nesting-derived parents are
also kept as ``parent`` properties (``$lookup`` reports them, ``parent = X``
filters on them).

``hierarchyMeaning`` decides what the tree means: ``is-a`` (and an absent
value, the common case in published code systems) makes nesting and
``parent`` subsumption, so they build the closure; ``grouped-by``,
``part-of`` and ``classified-with`` keep the tree for ``$lookup`` (parent,
child) but build no subsumption from it. ``subsumedBy`` is is-a by
definition and always builds closure edges.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

Json = dict[str, Any]
SUBSUMING_MEANINGS = frozenset({"is-a"})
_INACTIVE_STATUS = frozenset({"retired", "inactive", "deprecated"})
_VALUE_KEYS = (
    "valueCode",
    "valueString",
    "valueBoolean",
    "valueInteger",
    "valueDecimal",
    "valueDateTime",
    "valueCoding",
)


@dataclass(frozen=True, slots=True)
class DesignationRow:
    code: str
    value: str
    language: str | None
    use_system: str | None
    use_code: str | None
    use_display: str | None


@dataclass(frozen=True, slots=True)
class PropertyRow:
    """``value`` is the FHIR ``value[x]`` element; ``text`` its comparable form."""

    code: str
    property: str
    value: Json
    text: str


@dataclass(frozen=True, slots=True)
class ConceptRow:
    code: str
    display: str | None
    definition: str | None
    inactive: bool
    abstract: bool


@dataclass(frozen=True, slots=True)
class CodeSystemRows:
    """What one CodeSystem resource becomes in the store."""

    url: str
    version: str | None
    name: str | None
    hierarchy_meaning: str | None
    concepts: list[ConceptRow] = field(default_factory=list)
    designations: list[DesignationRow] = field(default_factory=list)
    properties: list[PropertyRow] = field(default_factory=list)
    closure: list[tuple[str, str]] = field(default_factory=list)  # (ancestor, descendant)


def property_text(element: Json) -> str | None:
    """The comparable text of a ``value[x]`` element (``valueCoding``: its code)."""
    for key in _VALUE_KEYS:
        if key not in element:
            continue
        value = element[key]
        if key == "valueCoding":
            return str(value.get("code")) if isinstance(value, dict) else None
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)
    return None


def property_value(element: Json) -> Json:
    """Only the ``value[x]`` of a property element."""
    return {k: v for k, v in element.items() if k.startswith("value")}


def _flags(properties: list[Json]) -> tuple[bool, bool]:
    inactive = abstract = False
    for prop in properties:
        code, text = prop.get("code"), property_text(prop)
        retired = code == "status" and text in _INACTIVE_STATUS
        if retired or (code == "inactive" and text == "true"):
            inactive = True
        elif code == "notSelectable" and text == "true":
            abstract = True
    return inactive, abstract


def _walk(concepts: list[Json], parent: str | None) -> Iterator[tuple[Json, str | None]]:
    stack = [(c, parent) for c in reversed(concepts)]
    while stack:
        concept, above = stack.pop()
        yield concept, above
        code = concept.get("code")
        if isinstance(code, str):
            stack.extend((child, code) for child in reversed(concept.get("concept") or []))


def _designations(code: str, concept: Json) -> Iterator[DesignationRow]:
    for d in concept.get("designation") or []:
        if isinstance(d.get("value"), str):
            use = d.get("use") or {}
            yield DesignationRow(
                code,
                d["value"],
                d.get("language"),
                use.get("system"),
                use.get("code"),
                use.get("display"),
            )


def code_system_rows(resource: Json) -> CodeSystemRows:
    """The rows of a CodeSystem; a resource without ``url`` is refused (``ValueError``)."""
    url = resource.get("url")
    if not isinstance(url, str) or not url:
        raise ValueError("a CodeSystem without url cannot be indexed")
    meaning = resource.get("hierarchyMeaning")
    rows = CodeSystemRows(url, resource.get("version"), resource.get("name"), meaning)
    subsuming = meaning is None or meaning in SUBSUMING_MEANINGS
    seen: set[str] = set()
    parents: dict[str, set[str]] = {}
    for concept, above in _walk(resource.get("concept") or [], None):
        code = concept.get("code")
        if not isinstance(code, str) or code in seen:
            continue
        seen.add(code)
        props = [p for p in concept.get("property") or [] if isinstance(p.get("code"), str)]
        inactive, abstract = _flags(props)
        rows.concepts.append(
            ConceptRow(code, concept.get("display"), concept.get("definition"), inactive, abstract)
        )
        rows.designations.extend(_designations(code, concept))
        edges = parents.setdefault(code, set())
        declared_parents: set[str] = set()
        for prop in props:
            text = property_text(prop)
            if text is None:
                continue
            rows.properties.append(PropertyRow(code, prop["code"], property_value(prop), text))
            if prop["code"] == "subsumedBy" or (prop["code"] == "parent" and subsuming):
                edges.add(text)
            if prop["code"] == "parent":
                declared_parents.add(text)
        if above is not None and above not in declared_parents:
            rows.properties.append(PropertyRow(code, "parent", {"valueCode": above}, above))
        if above is not None and subsuming:
            edges.add(above)
    rows.closure.extend(closure_pairs(parents))
    return rows


def closure_pairs(parents: dict[str, set[str]]) -> Iterator[tuple[str, str]]:
    """``(ancestor, descendant)`` for every code (self pairs included), memoised per code.

    Memory is the size of the closure itself (each code's ancestor set is built once
    from its parents' sets), never all pairs of codes. A cycle is cut where it is
    found: codes on it do not inherit each other's ancestors through the cut edge.
    """
    memo: dict[str, frozenset[str]] = {}
    for code in parents:
        for ancestor in _ancestors(code, parents, memo):
            yield ancestor, code


def _ancestors(
    code: str, parents: dict[str, set[str]], memo: dict[str, frozenset[str]]
) -> frozenset[str]:
    if code in memo:
        return memo[code]
    on_path: set[str] = set()
    stack: list[tuple[str, bool]] = [(code, False)]
    while stack:
        current, expanded = stack.pop()
        if current in memo:
            continue
        if expanded:
            on_path.discard(current)
            found = {current}
            for parent in parents.get(current, ()):
                found |= memo.get(parent, frozenset({parent}))
            memo[current] = frozenset(found)
            continue
        on_path.add(current)
        stack.append((current, True))
        stack.extend(
            (p, False) for p in parents.get(current, ()) if p not in memo and p not in on_path
        )
    return memo[code]
