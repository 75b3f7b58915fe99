"""Repair a secondary from the primary (``X-Tenant-ID`` selects the tenant).

POST   /admin/backends/{backend}/reconcile    compare (type, id, version), repair drift -> 202 + job
POST   /admin/backends/{backend}/rebuild      drop the tenant's entries, republish all -> 202
POST   /admin/backends/{backend}/rebuild-index  every tenant, into a new generation -> 202
GET    /admin/backends/{backend}/jobs/{job}   progress (compared, missing, stale, orphans, ...)
DELETE /admin/backends/{backend}/jobs/{job}   cancel
"""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Request, Response

from polyfhir_core.contracts.search_index import SearchIndex
from polyfhir_core.errors import NotFound
from polyfhir_gateway.context import FhirContext, fhir_context
from polyfhir_gateway.repair import reconciler
from polyfhir_gateway.repair.jobs import RepairJob, RepairJobs, RepairKind

router = APIRouter(prefix="/admin/backends")
Ctx = Annotated[FhirContext, Depends(fhir_context)]


def _jobs(request: Request) -> RepairJobs:
    jobs: RepairJobs = request.app.state.repairs
    return jobs


def _index(request: Request, backend: str) -> SearchIndex:
    indexes: dict[str, SearchIndex] = request.app.state.pipeline.indexes
    if backend not in indexes:
        known = ", ".join(sorted(indexes)) or "none configured"
        raise NotFound(f"no search secondary {backend!r} to repair ({known})")
    return indexes[backend]


def _response(job: RepairJob, status: int = 200) -> Response:
    return Response(
        orjson.dumps(job.to_json()),
        status_code=status,
        media_type="application/json",
        headers={"Content-Location": f"/admin/backends/{job.backend}/jobs/{job.id}"},
    )


def _start(fc: FhirContext, backend: str, kind: RepairKind) -> Response:
    index = _index(fc.request, backend)
    work = reconciler.reconcile if kind is RepairKind.RECONCILE else reconciler.rebuild
    job = _jobs(fc.request).start(
        fc.tenant.tenant.value,
        backend,
        kind,
        lambda job: work(fc.tenant, fc.store, index, job),
    )
    return _response(job, 202)


@router.post("/{backend}/reconcile")
async def start_reconcile(backend: str, fc: Ctx) -> Response:
    return _start(fc, backend, RepairKind.RECONCILE)


@router.post("/{backend}/rebuild")
async def start_rebuild(backend: str, fc: Ctx) -> Response:
    return _start(fc, backend, RepairKind.REBUILD)


@router.post("/{backend}/rebuild-index")
async def start_index_rebuild(backend: str, fc: Ctx) -> Response:
    """Zero-downtime rebuild of the whole index (every tenant); progress and outcome in
    ``GET /admin/backends`` (``index``)."""
    _index(fc.request, backend)
    status = fc.pipeline.convergence.start_rebuild(backend)
    return Response(orjson.dumps(status.to_json()), status_code=202, media_type="application/json")


@router.get("/{backend}/jobs/{job_id}")
async def job_status(backend: str, job_id: str, fc: Ctx) -> Response:
    return _response(_jobs(fc.request).get(fc.tenant.tenant.value, job_id))


@router.delete("/{backend}/jobs/{job_id}")
async def cancel_job(backend: str, job_id: str, fc: Ctx) -> Response:
    return _response(await _jobs(fc.request).cancel(fc.tenant.tenant.value, job_id))
