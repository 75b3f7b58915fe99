"""The SearchParameter registry: which parameters each resource type has.

Built from the 1,375 official R4 definitions shipped in ``data/`` (CC0, see
``data/LICENSE.md``); a tenant's own SearchParameter resources are layered on
top with :meth:`SearchParameterRegistry.with_definitions`, which returns a new
registry (registries are immutable, so a search never sees a half-updated one).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

import orjson

from polyfhir_core.registry.definitions import (
    UNIVERSAL_BASES,
    SearchParamDef,
    SearchParamType,
    definition_from_json,
    split_union,
)
from polyfhir_core.resource_validation import RESOURCE_TYPES


@dataclass(frozen=True, slots=True)
class Storage:
    """Where a parameter's index rows are, when they are another parameter's rows.

    ``patient`` of Observation is ``Observation.subject.where(resolve() is Patient)``:
    its rows are ``subject``'s rows that reference a Patient (``target_type``).
    ``combo-code`` is ``Observation.code | Observation.component.code``: its rows are
    the rows of ``code`` and of ``component-code`` (``params``). Such a parameter
    gets no rows of its own (a reference keeps its ``:identifier`` rows, which carry
    no target type); a search reads the rows named here. Exact: the rows are the
    ones the parameter's own expression would give.
    """

    params: tuple[str, ...]
    target_type: str | None = None

    @property
    def param(self) -> str | tuple[str, ...]:
        """``params`` as a clause names them: one code, or the several of a union."""
        return self.params[0] if len(self.params) == 1 else self.params


_RESTRICTED = re.compile(r"(.+)\.where\(resolve\(\)is([A-Za-z]+)\)")


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
        self._storage: dict[str, dict[str, Storage]] = {}

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

    def storage(self, rtype: str | None, code: str) -> Storage | None:
        """Where the rows of ``code`` on ``rtype`` are when they are other parameters'
        rows (see ``Storage``); None when the parameter has rows of its own."""
        return self.derived(rtype).get(code) if rtype is not None else None

    def rows(self, rtype: str | None, code: str) -> Storage:
        """The rows a search on ``code`` reads: its own, or those ``storage`` names."""
        return self.storage(rtype, code) or Storage((code,))

    def derived(self, rtype: str) -> Mapping[str, Storage]:
        """Every parameter of ``rtype`` whose rows are other parameters' rows."""
        found = self._storage.get(rtype)
        if found is None:
            found = self._storage[rtype] = self._derive(rtype)
        return found

    def _derive(self, rtype: str) -> dict[str, Storage]:
        own: dict[tuple[SearchParamType, str], str] = {}  # (type, expression) -> code
        branches: dict[str, tuple[SearchParamType, frozenset[str]]] = {}
        for definition, expression in self.indexed_for(rtype):
            if definition.type == SearchParamType.COMPOSITE:
                continue
            parts = frozenset(b.replace(" ", "") for b in split_union(expression))
            branches[definition.code] = (definition.type, parts)
            if len(parts) == 1:
                own.setdefault((definition.type, next(iter(parts))), definition.code)
        derived: dict[str, Storage] = {}
        for code, (kind, parts) in branches.items():
            if kind == SearchParamType.REFERENCE:
                restricted = _RESTRICTED.fullmatch(next(iter(parts))) if len(parts) == 1 else None
                source = restricted and own.get((kind, restricted.group(1)))
                if restricted and source and source != code:
                    derived[code] = Storage((source,), restricted.group(2))
                continue
            if len(parts) < 2:
                continue
            # a union of other parameters' rows: each source has fewer branches, all
            # within this one's, and together they are all of them
            sources = sorted(
                c
                for c, (k, p) in branches.items()
                if k == kind and c != code and len(p) < len(parts) and p <= parts
            )
            covered = frozenset().union(*(branches[c][1] for c in sources))
            if covered == parts:
                derived[code] = Storage(tuple(sources))
        # a source is never derived itself: a union's sources have fewer branches, a
        # restriction's source is a plain path; drop any that would be (custom params)
        return {
            code: st for code, st in derived.items() if not any(s in derived for s in st.params)
        }

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
