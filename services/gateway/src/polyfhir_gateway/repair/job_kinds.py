"""The gateway's job kinds: reconcile (resumable) and rebuild of a secondary (search or graph)."""

from __future__ import annotations

from collections.abc import Mapping

from polyfhir_core.contracts.primary_store import PrimaryStore
from polyfhir_core.errors import NotFound
from polyfhir_gateway.pipeline.secondary import Repairable
from polyfhir_gateway.repair import reconciler
from polyfhir_gateway.repair.jobs import RepairJob, RepairKind
from polyfhir_servicekit.jobs import JobKind, JobRun


def search_index(indexes: Mapping[str, Repairable], backend: str) -> Repairable:
    if backend not in indexes:
        known = ", ".join(sorted(indexes)) or "none configured"
        raise NotFound(f"no secondary {backend!r} to repair ({known})")
    return indexes[backend]


def repair_kinds(store: PrimaryStore, indexes: Mapping[str, Repairable]) -> list[JobKind]:
    async def reconcile(run: JobRun) -> None:
        index = search_index(indexes, str(run.job.params.get("backend")))
        await reconciler.reconcile(run.ctx, store, index, RepairJob(run))

    async def rebuild(run: JobRun) -> None:
        index = search_index(indexes, str(run.job.params.get("backend")))
        await reconciler.rebuild(run.ctx, store, index, RepairJob(run))

    return [
        JobKind(RepairKind.RECONCILE.value, reconcile, resumable=True),
        JobKind(RepairKind.REBUILD.value, rebuild, resumable=False),
    ]
