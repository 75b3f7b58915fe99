"""Compartments (compartmentdefinition.html): which references put a resource in one.

From the official R4 CompartmentDefinitions (``data/compartments.json``).
``Patient/123/Observation`` finds Observations whose ``subject`` or
``performer`` is Patient/123; the compartment's own resource belongs to it too.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import orjson


@cache
def _table() -> dict[str, dict[str, list[str]]]:
    raw = resources.files("polyfhir_core.registry").joinpath("data/compartments.json")
    table: dict[str, dict[str, list[str]]] = orjson.loads(raw.read_bytes())
    return table


def compartment_types() -> frozenset[str]:
    return frozenset(_table())


def compartment_params(compartment_type: str, resource_type: str) -> tuple[str, ...] | None:
    """The reference parameters linking ``resource_type`` to the compartment, or None
    when that type is not in it (``Patient`` -> ``Observation`` -> subject, performer)."""
    per_type = _table().get(compartment_type)
    if per_type is None:
        return None
    params = per_type.get(resource_type)
    if params is None and resource_type != compartment_type:
        return None
    return tuple(params or ())


def compartment_members(compartment_type: str) -> tuple[str, ...]:
    """Every resource type with a link into the compartment, in name order."""
    return tuple(sorted(_table().get(compartment_type, {})))
