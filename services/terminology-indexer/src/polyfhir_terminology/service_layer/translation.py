"""``$translate`` (and its ``reverse`` form) over the stored ConceptMaps."""

from __future__ import annotations

from polyfhir_core.contracts.terminology import (
    Coding,
    TranslateMatch,
    TranslateRequest,
    TranslateResult,
)
from polyfhir_core.errors import NotFound
from polyfhir_terminology.domain.conceptmap import MapRow
from polyfhir_terminology.domain.valueset import split_canonical
from polyfhir_terminology.service_layer.ports import ConceptMapRecord, TerminologyStore

NO_MATCH = frozenset({"unmatched", "disjoint"})
# Read from target to source, a relationship turns around (R4 concept-map-equivalence).
REVERSED = {
    "wider": "narrower",
    "narrower": "wider",
    "subsumes": "specializes",
    "specializes": "subsumes",
}


class Translator:
    def __init__(self, store: TerminologyStore) -> None:
        self._store = store

    async def maps(self, tenant: str, request: TranslateRequest) -> list[ConceptMapRecord]:
        if request.concept_map_url is not None:
            base, version = split_canonical(request.concept_map_url)
            found = await self._store.concept_maps(tenant, url=base)
            found = [m for m in found if version is None or m.version == version]
            if not found:
                raise NotFound(f"ConceptMap {request.concept_map_url} is unknown")
            return found[:1]
        if request.concept_map_id is not None:
            found = await self._store.concept_maps(tenant, resource_id=request.concept_map_id)
            if not found:
                raise NotFound(f"ConceptMap/{request.concept_map_id} is unknown")
            return found
        return await self._store.concept_maps(tenant, source=request.source, target=request.target)

    async def translate(self, tenant: str, request: TranslateRequest) -> TranslateResult:
        maps = await self.maps(tenant, request)
        urls = {m.resource_id: m.url for m in maps}
        rows = await self._store.map_rows(
            tenant, list(urls), request.system, request.code, reverse=request.reverse
        )
        matches = [
            _match(row, urls[map_id], reverse=request.reverse)
            for map_id, row in rows
            if _wanted(row, request)
        ]
        found = any(m.equivalence not in NO_MATCH for m in matches)
        message = None if found else f"no translation for {request.system}#{request.code}"
        return TranslateResult(found, message, tuple(matches))


def _wanted(row: MapRow, request: TranslateRequest) -> bool:
    if request.target_system is None:
        return True
    other = row.source_system if request.reverse else row.target_system
    return other == request.target_system


def _match(row: MapRow, url: str | None, *, reverse: bool) -> TranslateMatch:
    if reverse:
        concept = Coding(row.source_system, row.source_code, row.source_display)
        return TranslateMatch(REVERSED.get(row.equivalence, row.equivalence), concept, url)
    if row.target_system is None or row.target_code is None:
        return TranslateMatch(row.equivalence, None, url)
    return TranslateMatch(
        row.equivalence, Coding(row.target_system, row.target_code, row.target_display), url
    )
