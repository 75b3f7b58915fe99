"""Deleting a tenant: a durable job (kind ``delete-tenant``, docs/tenancy.md "Lifecycle").

In order: the tenant's bulk output files (found through its export and import job
records, before those records go), its primary data one bounded batch per
transaction (the registration last), then its entries in every configured
secondary (``drop_tenant``), once that secondary has applied the stream up to where
it stood after the primary's part (a bounded wait: a change of the tenant still in
flight would otherwise land after the drop). Counters say what went where: ``bulk:files`` (job
folders), ``primary:<table>`` (rows), ``secondary:<backend>`` (entries). Every step
is idempotent, so a resumed or repeated deletion finishes the work.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from polyfhir_core.contracts.primary_store import PrimaryStore
from polyfhir_core.contracts.secondary import IndexedSecondary
from polyfhir_core.errors import FhirError
from polyfhir_core.jobs import Job
from polyfhir_core.resources import format_instant
from polyfhir_core.tenancy import TenantContext
from polyfhir_gateway.bulk.export_job import EXPORT
from polyfhir_gateway.bulk.import_job import IMPORT
from polyfhir_gateway.bulk.storage import BulkStorage
from polyfhir_servicekit.jobs import JobKind, JobRun

DELETE_TENANT = "delete-tenant"
_MAX_JOBS = 1000  # the most job records a tenant's bulk files are looked up from
_CATCH_UP_MS = 30_000  # how long a secondary may take to apply what is in flight
log = logging.getLogger(__name__)


class SecondaryNotCleared(FhirError):
    status = 503
    code = "transient"


class TenantDeletion:
    def __init__(
        self,
        run: JobRun,
        store: PrimaryStore,
        secondaries: Mapping[str, IndexedSecondary],
        storage: BulkStorage,
        batch: int,
    ) -> None:
        self.run, self.store, self.secondaries = run, store, secondaries
        self.storage, self.batch = storage, batch
        self.target = TenantContext.of(str(run.job.params["tenant"]))
        self.counters: dict[str, int] = dict(run.job.counters)

    def _count(self, key: str, n: int) -> None:
        self.counters[key] = self.counters.get(key, 0) + n

    async def _save(self) -> None:
        done = sum(n for key, n in self.counters.items() if key.startswith("primary:"))
        await self.run.save(done=done, counters=self.counters)

    async def delete(self) -> None:
        await self._bulk_files()
        while removed := await self.store.delete_tenant_data(self.target, self.batch):
            for table, n in removed.items():
                self._count(f"primary:{table}", n)
            await self._save()
        await self._secondaries()
        await self._save()

    async def _bulk_files(self) -> None:
        jobs = await self.store.list_jobs(self.target, None, _MAX_JOBS)
        for job in jobs:
            if job.kind in (EXPORT, IMPORT):
                await self.storage.remove(job.id)
                self._count("bulk:files", 1)
        await self._save()

    async def _secondaries(self) -> None:
        stream = await self.store.stream_positions(self.run.ctx)
        failed: list[str] = []
        for backend, index in sorted(self.secondaries.items()):
            try:
                if not await index.wait_positions(self.target, stream.partitions, _CATCH_UP_MS):
                    log.warning("tenant deletion: %s is behind the stream; dropping", backend)
                self._count(f"secondary:{backend}", await index.drop_tenant(self.target))
            except Exception as exc:  # the others are still cleared; the job then fails
                log.warning("tenant deletion: %s could not drop the tenant: %s", backend, exc)
                failed.append(backend)
        if failed:
            await self._save()
            raise SecondaryNotCleared(
                f"the tenant's primary data is gone, but {', '.join(failed)} could not drop"
                " its entries: rebuild those backends in the tenant (docs/tenancy.md)"
            )


def tenant_kinds(
    store: PrimaryStore,
    secondaries: Mapping[str, IndexedSecondary],
    storage: BulkStorage,
    batch: int,
) -> list[JobKind]:
    async def delete(run: JobRun) -> None:
        await TenantDeletion(run, store, secondaries, storage, batch).delete()

    return [JobKind(DELETE_TENANT, delete, resumable=True)]


def deletion_json(job: Job) -> dict[str, Any]:
    """The admin API's view of a deletion: what went, per store."""
    removed: dict[str, Any] = {"primary": {}, "secondaries": {}, "bulkFiles": 0}
    for key, n in sorted(job.counters.items()):
        where, _, name = key.partition(":")
        if where == "primary":
            removed["primary"][name] = n
        elif where == "secondary":
            removed["secondaries"][name] = n
        elif key == "bulk:files":
            removed["bulkFiles"] = n
    return {
        "id": job.id,
        "kind": job.kind,
        "tenant": job.params.get("tenant"),
        "state": job.state.value,
        "removed": removed,
        "started": format_instant(job.started),
        "finished": format_instant(job.finished) if job.finished else None,
        "error": job.error,
    }
