"""Index values of a resource: every registered parameter of its type, evaluated."""

from __future__ import annotations

import logging
from typing import Any

from polyfhir_core.indexing.composite import extract_composite
from polyfhir_core.indexing.converters import CONVERTERS
from polyfhir_core.indexing.paths import compile_expression
from polyfhir_core.indexing.values import IndexValues
from polyfhir_core.registry import SearchParameterRegistry, SearchParamType

log = logging.getLogger(__name__)


def extract_index_values(
    resource: dict[str, Any], registry: SearchParameterRegistry
) -> IndexValues:
    """Rows for every search parameter of the resource's type that has a value.

    An expression that fails on an unusual resource yields no rows for that
    parameter rather than failing the write: the resource is valid R4, and a
    parameter it cannot feed simply does not match it.
    """
    out = IndexValues()
    rtype = resource.get("resourceType")
    if not isinstance(rtype, str):
        return out
    for definition, expression in registry.indexed_for(rtype):
        if definition.type == SearchParamType.COMPOSITE:
            try:
                extract_composite(definition, expression, resource, registry, out)
            except Exception:  # as below
                log.debug("composite %s failed on %s", definition.code, rtype, exc_info=True)
            continue
        convert = CONVERTERS.get(definition.type)
        if convert is None:
            continue
        try:
            nodes = compile_expression(expression)(resource)
        except Exception:  # see the docstring: a parameter fails, not the write
            log.debug("expression %r failed on %s", expression, rtype, exc_info=True)
            continue
        for node in nodes:
            convert(definition.code, node, out)
    return out.dedupe()
