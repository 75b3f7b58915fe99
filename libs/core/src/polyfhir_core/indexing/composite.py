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
from functools import lru_cache
from typing import Any

from polyfhir_core.indexing.converters import CONVERTERS, Converter
from polyfhir_core.indexing.paths import Node, compile_expression, is_fast
from polyfhir_core.indexing.values import CompositeElement, IndexValues
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
Part = tuple[str, Converter, Callable[[dict[str, Any]], list[Node]]]


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


@lru_cache(maxsize=4096)  # registries hash by identity: a tenant's new registry misses
def _parts(definition: SearchParamDef, registry: SearchParameterRegistry) -> list[Part] | None:
    types = component_types(definition, registry)
    if types is None:
        return None
    parts: list[Part] = []
    for number, (component, kind) in enumerate(zip(definition.components, types, strict=True)):
        rooted = _relative(component.expression)
        assert rooted is not None
        parts.append(
            (component_param(definition.code, number), CONVERTERS[kind], compile_expression(rooted))
        )
    return parts


def extract_composite(
    definition: SearchParamDef,
    expression: str,
    resource: dict[str, Any],
    registry: SearchParameterRegistry,
    out: IndexValues,
) -> None:
    parts = _parts(definition, registry)
    if parts is None:
        return
    for elem, node in enumerate(compile_expression(expression)(resource)):
        if not isinstance(node.value, dict):
            continue
        # A search names every component, so an element missing one never matches:
        # find every component's nodes before converting any of them.
        found = [(param, convert, evaluate(node.value)) for param, convert, evaluate in parts]
        if not all(children for _, _, children in found):
            continue
        values = IndexValues()
        for param, convert, children in found:
            before = values.count()
            for child in children:
                convert(param, child, values)
            if values.count() == before:
                break
        else:
            out.composites.append(CompositeElement(elem, values))
