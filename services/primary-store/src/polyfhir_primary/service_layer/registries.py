"""Each tenant's SearchParameter registry: the official one plus its own definitions.

A tenant's SearchParameter resources (status active or draft) are layered on
the official registry. The layered registry is cached per tenant together with
the tenant's SearchParameter *generation* (number of SearchParameter versions
and the highest version sequence, one index probe on ``resource_versions``).
Every request compares the stored generation with the database's, so a change
written through any replica is seen by every replica on its next request; the
replica that wrote it also drops its cache at once. Index rows written before
the change are brought up to date by a reindex (``reindex.py``).
"""

from __future__ import annotations

import logging

from polyfhir_core.errors import FhirError
from polyfhir_core.indexing.custom import custom_definition, is_active
from polyfhir_core.registry import SearchParamDef, SearchParameterRegistry
from polyfhir_core.tenancy import TenantId
from polyfhir_primary.adapters.database import Database, Session

log = logging.getLogger(__name__)

SEARCH_PARAMETER = "SearchParameter"
_BATCH = 500


class TenantRegistries:
    def __init__(self, official: SearchParameterRegistry, db: Database) -> None:
        self.official = official
        self.db = db
        self._cache: dict[str, tuple[tuple[int, int], SearchParameterRegistry]] = {}

    async def get(
        self, tenant: TenantId, session: Session | None = None
    ) -> SearchParameterRegistry:
        """The tenant's registry; checked (and loaded) in ``session`` when the caller has one
        open, which saves a transaction of its own on every request."""
        if session is None:
            async with self.db.session(tenant, write=False) as own:
                return await self._get(tenant, own)
        return await self._get(tenant, session)

    async def _get(self, tenant: TenantId, session: Session) -> SearchParameterRegistry:
        generation = await session.type_generation(SEARCH_PARAMETER)
        cached = self._cache.get(tenant.value)
        if cached is None or cached[0] != generation:
            custom = await self._load(session)
            registry = self.official.with_definitions(custom) if custom else self.official
            cached = (generation, registry)
            self._cache[tenant.value] = cached
        return cached[1]

    def invalidate(self, tenant: TenantId) -> None:
        self._cache.pop(tenant.value, None)

    async def _load(self, session: Session) -> list[SearchParamDef]:
        found: list[SearchParamDef] = []
        after: tuple[str, str] | None = None
        while True:
            batch = await session.scan_current([SEARCH_PARAMETER], after, _BATCH)
            for stored in batch:
                if stored.content is None or not is_active(stored.content):
                    continue
                try:
                    found.append(custom_definition(stored.content))
                except FhirError as exc:  # stored before a stricter check: skip, say so
                    log.warning("SearchParameter/%s ignored: %s", stored.id, exc)
            if len(batch) < _BATCH:
                return found
            after = (batch[-1].resource_type, batch[-1].id)


def touches_search_parameters(urls: list[str]) -> bool:
    return any(url.split("/")[0].split("?")[0] == SEARCH_PARAMETER for url in urls)
