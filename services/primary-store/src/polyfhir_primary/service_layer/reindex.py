"""Reindex: rebuild a tenant's search index rows from its current resources.

A durable job of kind ``reindex`` (polyfhir_core.jobs), run by the primary
store's job runner. It walks the current resources in (type, id) order in
batches (one transaction each), so writes go on meanwhile; a resource written
during the reindex is indexed by its own write with the same registry. After
every batch the job saves ``done``/``total`` and its checkpoint, the last
(type, id) indexed: a reindex interrupted by a restart resumes after it, and a
cancellation (from any process) stops it between batches.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from polyfhir_core.indexing.index_values import IndexValues
from polyfhir_core.jobs import JsonObject
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_core.resources import Json
from polyfhir_core.tenancy import TenantId
from polyfhir_primary.adapters.database import Database
from polyfhir_primary.service_layer.registries import TenantRegistries
from polyfhir_servicekit.jobs import JobKind, JobRun

log = logging.getLogger(__name__)

REINDEX = "reindex"

Indexer = Callable[[Json, SearchParameterRegistry], IndexValues]


def reindex_params(resource_types: Sequence[str] | None) -> JsonObject:
    return {"resourceTypes": list(resource_types) if resource_types else None}


def _resume_after(checkpoint: JsonObject | None) -> tuple[str, str] | None:
    after = (checkpoint or {}).get("after")
    return (str(after[0]), str(after[1])) if after else None


class Reindexer:
    def __init__(
        self, db: Database, registries: TenantRegistries, indexer: Indexer, batch: int = 200
    ) -> None:
        self.db, self.registries, self.indexer, self.batch = db, registries, indexer, batch

    def kind(self) -> JobKind:
        return JobKind(REINDEX, self.run, resumable=True)

    async def count(self, tenant: TenantId, resource_types: Sequence[str] | None) -> int:
        async with self.db.session(tenant, write=False) as session:
            return await session.count_current(resource_types)

    async def run(self, run: JobRun) -> None:
        tenant = TenantId.parse(run.job.tenant)
        types: list[str] | None = run.job.params.get("resourceTypes")
        self.registries.invalidate(tenant)
        registry = await self.registries.get(tenant)
        after = _resume_after(run.checkpoint)
        done = run.job.done
        while True:
            async with self.db.session(tenant, write=True) as session:
                batch = await session.scan_current(types, after, self.batch)
                for stored in batch:
                    if stored.content is not None:
                        await session.replace_index(stored, self.indexer(stored.content, registry))
            done += len(batch)
            if batch:
                after = (batch[-1].resource_type, batch[-1].id)
            await run.save(
                done=done,
                total=max(run.job.total, done),
                checkpoint={"after": list(after)} if after else None,
            )
            if len(batch) < self.batch:
                break
        log.info("reindex %s of tenant %s: %d resources", run.job.id, tenant.value, done)
