"""Index values of a resource: every registered parameter of its type, evaluated.

What to evaluate for a resource type is worked out once per registry (a
:class:`_Plan`): each parameter's compiled expression and converter, and the
top-level keys of which a resource must have one for the parameter to have a
value, so a resource only evaluates the expressions it can feed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from polyfhir_core.indexing.composite_params import composite_indexer
from polyfhir_core.indexing.converters import CONVERTERS, Converter, reference_identifier
from polyfhir_core.indexing.index_values import IndexValues
from polyfhir_core.indexing.paths import Evaluator, compile_expression, top_level_keys
from polyfhir_core.registry import SearchParamDef, SearchParameterRegistry, SearchParamType
from polyfhir_core.resource_validation import is_resource_type

log = logging.getLogger(__name__)

Indexer = Callable[[dict[str, Any], IndexValues], None]


@dataclass(frozen=True, slots=True)
class _Plan:
    indexers: tuple[Indexer, ...]  # in the registry's order, which fixes the rows' order
    always: frozenset[int]  # indexers any resource may feed
    by_key: dict[str, tuple[int, ...]]  # top-level key -> the indexers it may feed


_PLANS: WeakKeyDictionary[SearchParameterRegistry, dict[str, _Plan]] = WeakKeyDictionary()


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
    plan = _plan_for(registry, rtype)
    active = set(plan.always)
    by_key = plan.by_key
    for key in resource:
        fed = by_key.get(key)
        if fed is not None:
            active.update(fed)
    indexers = plan.indexers
    for i in sorted(active):
        indexers[i](resource, out)
    return out.dedupe()


def _plan_for(registry: SearchParameterRegistry, rtype: str) -> _Plan:
    """The registry's plan for ``rtype``, made once (not kept for unknown types)."""
    plans = _PLANS.get(registry)
    if plans is None:
        plans = _PLANS.setdefault(registry, {})
    plan = plans.get(rtype)
    if plan is None:
        plan = _plan(registry, rtype)
        if is_resource_type(rtype):
            plans[rtype] = plan
    return plan


def _plan(registry: SearchParameterRegistry, rtype: str) -> _Plan:
    indexers: list[Indexer] = []
    always: set[int] = set()
    by_key: dict[str, list[int]] = {}
    for definition, expression in registry.indexed_for(rtype):
        found = _indexer(definition, expression, rtype, registry)
        if found is None:
            continue
        indexer, keys = found
        if keys is None:
            always.add(len(indexers))
        else:
            for key in keys:
                by_key.setdefault(key, []).append(len(indexers))
        indexers.append(indexer)
    return _Plan(tuple(indexers), frozenset(always), {k: tuple(v) for k, v in by_key.items()})


def _indexer(
    definition: SearchParamDef, expression: str, rtype: str, registry: SearchParameterRegistry
) -> tuple[Indexer, frozenset[str] | None] | None:
    """The parameter's indexer and the keys it needs (see ``top_level_keys``), if any."""
    code = definition.code
    try:
        if definition.type == SearchParamType.COMPOSITE:
            composite = composite_indexer(definition, expression, registry, rtype)
            if composite is None:
                return None
            return _guarded_composite(code, rtype, composite.extract), composite.keys
        convert = CONVERTERS.get(definition.type)
        if convert is None:
            return None
        stored = registry.storage(rtype, code)
        if stored is not None:  # its rows are other parameters' rows (``Storage``)
            if definition.type != SearchParamType.REFERENCE:
                return None
            convert = reference_identifier  # all but its :identifier rows
        evaluate = compile_expression(expression)
        return _guarded(code, expression, rtype, evaluate, convert), top_level_keys(expression)
    except Exception:  # an expression that does not compile feeds no rows
        log.debug("expression %r of %s does not compile", expression, rtype, exc_info=True)
        return None


def _guarded(
    code: str, expression: str, rtype: str, evaluate: Evaluator, convert: Converter
) -> Indexer:
    def index(resource: dict[str, Any], out: IndexValues) -> None:
        try:
            nodes = evaluate(resource)
        except Exception:  # see the docstring: a parameter fails, not the write
            log.debug("expression %r failed on %s", expression, rtype, exc_info=True)
            return
        for node in nodes:
            convert(code, node, out)

    return index


def _guarded_composite(code: str, rtype: str, composite: Indexer) -> Indexer:
    def index(resource: dict[str, Any], out: IndexValues) -> None:
        try:
            composite(resource, out)
        except Exception:  # as above
            log.debug("composite %s failed on %s", code, rtype, exc_info=True)

    return index
