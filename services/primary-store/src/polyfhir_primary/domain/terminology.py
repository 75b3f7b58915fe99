"""Code hierarchies and value-set rules from stored CodeSystem / ValueSet resources (pure).

A CodeSystem gives a **closure**: every (ancestor, descendant) pair of its
is-a hierarchy, self pairs included — from nested ``concept`` and from
``parent`` / ``subsumedBy`` properties. A ValueSet gives **rules** kept as
rules, not as an expansion, so they stay right when a CodeSystem changes:
``concept`` (one code), ``is-a`` / ``descendent-of`` (a subtree), ``all``
(a whole system); excludes subtract. ``compose.include.valueSet`` imports are
not followed (documented limitation).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

Json = dict[str, Any]
_PARENT_PROPERTIES = frozenset({"parent", "subsumedBy"})


def _walk(concepts: list[Json], parent: str | None, edges: dict[str, set[str]]) -> None:
    for concept in concepts:
        code = concept.get("code")
        if not isinstance(code, str):
            continue
        edges.setdefault(code, set())
        if parent is not None:
            edges[code].add(parent)
        for prop in concept.get("property") or []:
            value = prop.get("valueCode")
            if prop.get("code") in _PARENT_PROPERTIES and isinstance(value, str):
                edges[code].add(value)
        _walk(concept.get("concept") or [], code, edges)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a large closure is built.

    A code system of ~100,000 concepts (ICD-10-CM) gives ~600,000 pairs: every
    tuple allocated counts towards a collection, and each full collection walks
    the resource's half a million objects again, which took 10 s of a 12 s
    closure. The pairs hold only strings (no cycles to collect), and the caller
    runs no other code meanwhile (no await inside), so pausing is safe.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def closure(codesystem: Json) -> list[tuple[str, str]]:
    """``(ancestor, descendant)`` pairs, self pairs included; cycles are tolerated."""
    parents: dict[str, set[str]] = {}
    with _collector_paused():
        _walk(codesystem.get("concept") or [], None, parents)
        pairs: set[tuple[str, str]] = set()
        for code in parents:
            seen, stack = {code}, [code]
            while stack:
                for parent in parents.get(stack.pop(), ()):
                    if parent not in seen:
                        seen.add(parent)
                        stack.append(parent)
            pairs.update((ancestor, code) for ancestor in seen)
        return sorted(pairs)


@dataclass(frozen=True, slots=True)
class ValueSetRule:
    system: str
    op: str  # concept | is-a | descendent-of | all
    code: str | None
    exclude: bool


_FILTER_OPS = {"is-a": "is-a", "descendent-of": "descendent-of", "=": "concept"}


def _rules(section: Json, exclude: bool) -> Iterator[ValueSetRule]:
    system = section.get("system")
    if not isinstance(system, str):
        return
    concepts = section.get("concept") or []
    filters = section.get("filter") or []
    for concept in concepts:
        if isinstance(concept.get("code"), str):
            yield ValueSetRule(system, "concept", concept["code"], exclude)
    for f in filters:
        op = _FILTER_OPS.get(f.get("op", ""))
        if op and f.get("property") == "concept" and isinstance(f.get("value"), str):
            yield ValueSetRule(system, op, f["value"], exclude)
    if not concepts and not filters:
        yield ValueSetRule(system, "all", None, exclude)


def valueset_rules(valueset: Json) -> list[ValueSetRule]:
    compose = valueset.get("compose") or {}
    rules = [r for inc in compose.get("include") or [] for r in _rules(inc, False)]
    rules += [r for exc in compose.get("exclude") or [] for r in _rules(exc, True)]
    if not rules:
        for item in (valueset.get("expansion") or {}).get("contains") or []:
            if isinstance(item.get("system"), str) and isinstance(item.get("code"), str):
                rules.append(ValueSetRule(item["system"], "concept", item["code"], False))
    return rules


def canonical(url: str) -> str:
    """``http://x/vs|1.0`` -> ``http://x/vs`` (versions are not distinguished)."""
    return url.split("|", 1)[0]
