"""Combine what the backends answered: id sets and scored hits. Pure functions.

- :func:`intersection` / :func:`union` of id sets (order of first appearance);
- :func:`secondary_filtered`: the secondary answered the whole query, so a page
  is a slice of its hits in score order (the resources are read by id);
- :func:`primary_enriched`: the secondary's ids replace the full-text
  parameters as an ``_id`` restriction, intersected with the query's own
  ``_id`` (INTERSECTION); the primary applies everything else.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from polyfhir_core.config.routing import QueryFeature
from polyfhir_core.contracts.search_index import TextHits
from polyfhir_core.planning.analyzer import QueryAnalysis
from polyfhir_core.resources import ResourceKey
from polyfhir_core.search import SearchParam, SearchQuery

T = TypeVar("T", bound=Hashable)


def intersection(first: Iterable[T], *others: Iterable[T]) -> list[T]:
    """Items of ``first`` present in every other set, in ``first``'s order, once each."""
    keep = [set(other) for other in others]
    return [item for item in dict.fromkeys(first) if all(item in s for s in keep)]


def union(*id_sets: Iterable[T]) -> list[T]:
    """Every item of every set, once, in order of first appearance."""
    seen: dict[T, None] = {}
    for ids in id_sets:
        seen.update(dict.fromkeys(ids))
    return list(seen)


@dataclass(frozen=True, slots=True)
class HitsPage:
    """One page of a secondary-filtered search: keys to read, total, the next offset."""

    keys: tuple[ResourceKey, ...]
    total: int
    next_offset: int | None


def hits_needed(offset: int, count: int) -> int:
    """How many hits a secondary must return to fill the page at ``offset``."""
    return max(offset + count, 1)


def secondary_filtered(hits: TextHits, offset: int, count: int) -> HitsPage:
    """The page at ``offset`` of ``count`` hits, in score order (duplicates dropped)."""
    keys = tuple(dict.fromkeys(hit.key for hit in hits.hits))
    page = keys[offset : offset + count]
    after = offset + count
    return HitsPage(page, hits.total, after if after < hits.total and count > 0 else None)


def enriched_ids(analysis: QueryAnalysis, hits: TextHits) -> list[str]:
    """The ids the primary is restricted to: hits of the searched type, ∩ the query's ``_id``."""
    rtype = analysis.query.resource_type
    ids = [hit.id for hit in hits.hits if rtype is None or hit.resource_type == rtype]
    allowed = analysis.id_restriction
    return intersection(ids, allowed) if allowed is not None else intersection(ids)


def primary_enriched(analysis: QueryAnalysis, ids: Sequence[str]) -> SearchQuery:
    """The query without its full-text parameters (and ``_id``), restricted to ``ids``.

    ``ids`` must not be empty (an empty ``_id`` is not a FHIR query): an empty
    candidate set is answered without asking the primary.
    """
    if not ids:
        msg = "primary_enriched needs at least one id"
        raise ValueError(msg)
    part = analysis.part(QueryFeature.FULL_TEXT)
    text_params = set(part.params) if part is not None else set()
    kept = tuple(
        p
        for p in analysis.query.params
        if p not in text_params and not (p.name == "_id" and p.modifier is None)
    )
    return replace(analysis.query, params=(*kept, SearchParam("_id", tuple(ids))))
