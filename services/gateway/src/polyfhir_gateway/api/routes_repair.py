"""Repair a secondary from the primary (``X-Tenant-ID`` selects the tenant).

POST   /admin/backends/{backend}/reconcile    compare (type, id, version), repair drift -> 202 + job
POST   /admin/backends/{backend}/rebuild      drop the tenant's entries, republish all -> 202
POST   /admin/backends/{backend}/rebuild-index  every tenant, into a new generation -> 202
GET    /admin/backends/{backend}/jobs/{job}   progress (compared, missing, stale, orphans, ...)
DELETE /admin/backends/{backend}/jobs/{job}   cancel

Jobs are durable (the primary database keeps them): any gateway replica answers for
them, and a restart resumes a reconcile or marks a rebuild failed (repair/jobs.py).
"""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Request, Response

from polyfhir_core.errors import NotFound
from polyfhir_core.jobs import Job
from polyfhir_gateway.context import FhirContext, fhir_context
from polyfhir_gateway.pipeline.secondary import Repairable
from polyfhir_gateway.repair.job_kinds import search_index
from polyfhir_gateway.repair.jobs import RepairKind, repair_json
from polyfhir_servicekit.jobs import JobRunner

router = APIRouter(prefix="/admin/backends")
Ctx = Annotated[FhirContext, Depends(fhir_context)]
_REPAIRS = {kind.value for kind in RepairKind}


def _runner(request: Request) -> JobRunner:
    runner: JobRunner = request.app.state.jobs
    return runner


def _index(request: Request, backend: str) -> Repairable:
    indexes: dict[str, Repairable] = request.app.state.pipeline.repairable
    return search_index(indexes, backend)


def _response(job: Job, status: int = 200) -> Response:
    return Response(
        orjson.dumps(repair_json(job)),
        status_code=status,
        media_type="application/json",
        headers={"Content-Location": f"/admin/backends/{job.params.get('backend')}/jobs/{job.id}"},
    )


async def _start(fc: FhirContext, backend: str, kind: RepairKind) -> Response:
    _index(fc.request, backend)  # 404 for a backend this gateway cannot repair
    job = await _runner(fc.request).submit(fc.tenant, kind.value, {"backend": backend})
    return _response(job, 202)


async def _repair_job(fc: FhirContext, backend: str, job_id: str) -> Job:
    job = await _runner(fc.request).get(fc.tenant, job_id)
    if job.kind not in _REPAIRS or job.params.get("backend") != backend:
        raise NotFound(f"no repair job {job_id!r} of {backend!r} in this tenant")
    return job


@router.post("/{backend}/reconcile")
async def start_reconcile(backend: str, fc: Ctx) -> Response:
    return await _start(fc, backend, RepairKind.RECONCILE)


@router.post("/{backend}/rebuild")
async def start_rebuild(backend: str, fc: Ctx) -> Response:
    return await _start(fc, backend, RepairKind.REBUILD)


@router.post("/{backend}/rebuild-index")
async def start_index_rebuild(backend: str, fc: Ctx) -> Response:
    """Zero-downtime rebuild of the whole index (every tenant); progress and outcome in
    ``GET /admin/backends`` (``index``)."""
    _index(fc.request, backend)
    status = fc.pipeline.convergence.start_rebuild(backend)
    return Response(orjson.dumps(status.to_json()), status_code=202, media_type="application/json")


@router.get("/{backend}/jobs/{job_id}")
async def job_status(backend: str, job_id: str, fc: Ctx) -> Response:
    return _response(await _repair_job(fc, backend, job_id))


@router.delete("/{backend}/jobs/{job_id}")
async def cancel_job(backend: str, job_id: str, fc: Ctx) -> Response:
    await _repair_job(fc, backend, job_id)
    return _response(await _runner(fc.request).cancel(fc.tenant, job_id))
