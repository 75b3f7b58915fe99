"""A ConceptMap as translation rows (pure): one row per group/element/target.

``$translate`` looks a (system, code) up among the sources; ``reverse`` looks
it up among the targets and answers the sources. An element without
``target`` is kept as a row without target (its equivalence ``unmatched``, so
a translation can say the code is known to have no match). ``group.unmapped``
is not applied (documented in docs/terminology.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class MapRow:
    source_system: str
    source_code: str
    source_display: str | None
    target_system: str | None
    target_code: str | None
    target_display: str | None
    equivalence: str
    comment: str | None


@dataclass(frozen=True, slots=True)
class ConceptMapRows:
    url: str | None
    version: str | None
    source: str | None  # the source value set's canonical
    target: str | None
    rows: tuple[MapRow, ...]


def _scope(resource: Json, name: str) -> str | None:
    for key in (f"{name}Canonical", f"{name}Uri"):
        if isinstance(resource.get(key), str):
            return str(resource[key])
    return None


def _rows(group: Json) -> Iterator[MapRow]:
    source, target = group.get("source"), group.get("target")
    if not isinstance(source, str):
        return
    for element in group.get("element") or ():
        code = element.get("code")
        if not isinstance(code, str):
            continue
        targets = element.get("target") or ()
        if not targets:
            yield MapRow(source, code, element.get("display"), None, None, None, "unmatched", None)
        for t in targets:
            yield MapRow(
                source,
                code,
                element.get("display"),
                target if isinstance(target, str) else None,
                t.get("code"),
                t.get("display"),
                t.get("equivalence") or "equivalent",
                t.get("comment"),
            )


def concept_map_rows(resource: Json) -> ConceptMapRows:
    url = resource.get("url")
    return ConceptMapRows(
        url if isinstance(url, str) else None,
        resource.get("version"),
        _scope(resource, "source"),
        _scope(resource, "target"),
        tuple(row for group in resource.get("group") or () for row in _rows(group)),
    )
