"""The SearchParameter registry: which parameters each resource type has.

Built from the 1,375 official R4 definitions shipped in ``data/`` (CC0, see
``data/LICENSE.md``); a tenant's own SearchParameter resources are layered on
top with :meth:`SearchParameterRegistry.with_definitions`, which returns a new
registry (registries are immutable, so a search never sees a half-updated one).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

import orjson

from polyfhir_core.registry.definitions import (
    UNIVERSAL_BASES,
    SearchParamDef,
    definition_from_json,
)
from polyfhir_core.validation import RESOURCE_TYPES

# Answered from columns of the resources table, never from index rows.
COLUMN_PARAMS = frozenset({"_id", "_lastUpdated"})
# Answered by the full-text index or not by a parameter at all.
NON_INDEXED_PARAMS = frozenset({"_text", "_content", "_query", "_filter", "_list", "_has"})


class SearchParameterRegistry:
    def __init__(self, definitions: Iterable[SearchParamDef]) -> None:
        per_type: dict[str, dict[str, SearchParamDef]] = {t: {} for t in RESOURCE_TYPES}
        universal: dict[str, SearchParamDef] = {}
        by_url: dict[str, SearchParamDef] = {}
        for definition in definitions:
            by_url[definition.url] = definition
            if UNIVERSAL_BASES.intersection(definition.base):
                universal[definition.code] = definition
            for base in definition.base:
                if base in per_type:
                    per_type[base][definition.code] = definition
        self._universal = universal
        self._per_type = {
            t: MappingProxyType({**universal, **params}) for t, params in per_type.items()
        }
        self._by_url = by_url
        self._expressions: dict[tuple[str, str], str | None] = {}

    @classmethod
    def default(cls) -> SearchParameterRegistry:
        """The official R4 parameters (shared, immutable; built once per process)."""
        return _default()

    def get(self, rtype: str, code: str) -> SearchParamDef | None:
        """The parameter ``code`` of ``rtype`` (``Resource`` for the universal ones)."""
        params = self._per_type.get(rtype)
        if params is None:
            return self._universal.get(code)
        return params.get(code)

    def for_type(self, rtype: str) -> Mapping[str, SearchParamDef]:
        return self._per_type.get(rtype, MappingProxyType(self._universal))

    def by_url(self, url: str) -> SearchParamDef | None:
        return self._by_url.get(url)

    def definitions(self) -> Iterable[SearchParamDef]:
        return self._by_url.values()

    def indexed_for(self, rtype: str) -> Iterable[tuple[SearchParamDef, str]]:
        """``(definition, expression)`` of every parameter whose values are index rows."""
        for code, definition in self.for_type(rtype).items():
            if code in COLUMN_PARAMS or code in NON_INDEXED_PARAMS:
                continue
            expression = self.expression(rtype, definition)
            if expression:
                yield definition, expression

    def expression(self, rtype: str, definition: SearchParamDef) -> str | None:
        key = (rtype, definition.url)
        if key not in self._expressions:
            self._expressions[key] = definition.expression_for(rtype)
        return self._expressions[key]

    def with_definitions(self, extra: Iterable[SearchParamDef]) -> SearchParameterRegistry:
        """A new registry: these definitions added, replacing any with the same url or
        the same code on the same base."""
        extra = list(extra)
        replaced = {d.url for d in extra}
        shadowed = {(b, d.code) for d in extra for b in d.base}
        kept = [
            d
            for d in self._by_url.values()
            if d.url not in replaced and not any((b, d.code) in shadowed for b in d.base)
        ]
        return SearchParameterRegistry([*kept, *extra])


def load_official() -> list[SearchParamDef]:
    raw = resources.files("polyfhir_core.registry").joinpath("data/search-parameters.json")
    rows: list[dict[str, Any]] = orjson.loads(raw.read_bytes())
    return [definition_from_json(row) for row in rows]


@cache
def _default() -> SearchParameterRegistry:
    return SearchParameterRegistry(load_official())
