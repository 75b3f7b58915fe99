"""Composite search parameters: index rows per element, components kept together.

A composite's expression selects elements (``Observation``,
``Observation.component``); each component's expression is evaluated relative
to one element and its values are converted by the component definition's
type. The rows of element *n* carry ``elem = n`` and the parameter name
``<composite>$<component number>``, so a search can require that all parts of
``code$value`` hold for the *same* element.

Supported component types: token, string, date, number, quantity, with
expressions in the fast FHIRPath subset (every official composite except the
``%resource``-relative MolecularSequence ones and DocumentReference
``relationship``, whose component is a reference).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from polyfhir_core.indexing.converters import CONVERTERS, Converter
from polyfhir_core.indexing.index_values import CompositeElement, IndexValues
from polyfhir_core.indexing.paths import (
    Evaluator,
    Node,
    compile_expression,
    is_fast,
    top_level_keys,
)
from polyfhir_core.registry import (
    SearchParamDef,
    SearchParameterRegistry,
    SearchParamType,
    split_union,
)

COMPONENT_TYPES = frozenset(
    {
        SearchParamType.TOKEN,
        SearchParamType.STRING,
        SearchParamType.DATE,
        SearchParamType.NUMBER,
        SearchParamType.QUANTITY,
    }
)


def component_param(code: str, number: int) -> str:
    return f"{code}${number}"


@lru_cache(maxsize=4096)
def _relative(expression: str) -> str | None:
    """``value.as(Quantity) | value.as(Range)`` evaluated on an element (fast path only)."""
    rooted = " | ".join(f"Resource.{branch.strip()}" for branch in split_union(expression))
    return rooted if is_fast(rooted) else None


def component_types(
    definition: SearchParamDef, registry: SearchParameterRegistry
) -> tuple[SearchParamType, ...] | None:
    """The components' types, or None when the primary cannot index this composite."""
    if definition.type != SearchParamType.COMPOSITE or len(definition.components) < 2:
        return None
    out = []
    for component in definition.components:
        target = registry.by_url(component.definition)
        if target is None or target.type not in COMPONENT_TYPES:
            return None
        if _relative(component.expression) is None:
            return None
        out.append(target.type)
    return tuple(out)


def component_rows(
    definition: SearchParamDef, rtype: str, registry: SearchParameterRegistry
) -> tuple[str | None, ...] | None:
    """For a composite whose element is the resource itself (``code-value-quantity``:
    ``Observation``), per component the parameter whose rows are exactly its rows
    (``code``: ``Observation.code``), or None where it keeps rows of its own; None for
    a composite over other elements. The resource is the one element, so its
    components need no ``elem`` to be kept together, and such a component is
    read from the other parameter's rows instead of being written twice."""
    expression = registry.expression(rtype, definition)
    if expression is None or expression.strip() != rtype:
        return None
    out: list[str | None] = []
    for component in definition.components:
        target = registry.by_url(component.definition)
        base = registry.get(rtype, target.code) if target is not None else None
        same = (
            target is not None
            and base is not None
            and base.url == target.url
            and registry.storage(rtype, base.code) is None
            and (registry.expression(rtype, base) or "").replace(" ", "")
            == f"{rtype}.{component.expression}".replace(" ", "")
        )
        out.append(base.code if same and base is not None else None)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class _Part:
    param: str  # ``<composite>$<component number>``
    convert: Converter
    evaluate: Evaluator  # on one element
    keys: frozenset[str] | None  # an element without one of these has no value for it
    written: bool = True  # False: its rows are another parameter's (``component_rows``)


def _parts(
    definition: SearchParamDef, rtype: str, registry: SearchParameterRegistry
) -> list[_Part] | None:
    types = component_types(definition, registry)
    if types is None:
        return None
    shared = component_rows(definition, rtype, registry) or ()
    parts: list[_Part] = []
    for number, (component, kind) in enumerate(zip(definition.components, types, strict=True)):
        rooted = _relative(component.expression)
        assert rooted is not None
        parts.append(
            _Part(
                component_param(definition.code, number),
                CONVERTERS[kind],
                compile_expression(rooted),
                top_level_keys(rooted),
                written=number >= len(shared) or shared[number] is None,
            )
        )
    return parts


@dataclass(frozen=True, slots=True)
class CompositeIndexer:
    """Appends a resource's elements for one composite parameter."""

    extract: Callable[[dict[str, Any], IndexValues], None]
    keys: frozenset[str] | None  # as :func:`top_level_keys`, for the whole resource


def composite_indexer(
    definition: SearchParamDef, expression: str, registry: SearchParameterRegistry, rtype: str
) -> CompositeIndexer | None:
    """The composite's indexer for ``rtype``, or None when the primary cannot index it."""
    parts = _parts(definition, rtype, registry)
    if parts is None:
        return None
    elements = compile_expression(expression)
    gates = [part.keys for part in parts if part.keys is not None]

    def extract(resource: dict[str, Any], out: IndexValues) -> None:
        for elem, node in enumerate(elements(resource)):
            element = node.value
            if not isinstance(element, dict) or any(keys.isdisjoint(element) for keys in gates):
                continue
            # A search names every component, so an element missing one never matches:
            # find every component's nodes before converting any of them.
            found = []
            for part in parts:
                children = part.evaluate(element)
                if not children:
                    break
                found.append((part, children))
            else:
                _append(elem, found, out)

    # The element is the resource itself on a root-only branch (``Observation``):
    # the resource then needs a key of every part, so the smallest gate will do.
    root_keys = min(gates, key=len) if gates else None
    return CompositeIndexer(extract, top_level_keys(expression, root_keys=root_keys))


def _append(elem: int, found: list[tuple[_Part, list[Node]]], out: IndexValues) -> None:
    values = IndexValues()
    for part, children in found:
        into = values if part.written else IndexValues()  # converted to see it has a value
        before = into.count()
        for child in children:
            part.convert(part.param, child, into)
        if into.count() == before:
            return
    if values.count():
        out.composites.append(CompositeElement(elem, values))
