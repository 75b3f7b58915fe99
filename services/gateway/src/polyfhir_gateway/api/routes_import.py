"""``$import``: kick-off (a Parameters resource), status with its manifest, cancellation.

Beside routes_bulk.py (same rules: ``Prefer: respond-async``, the per-tenant limit,
status URLs checked against the caller's tenant)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from polyfhir_core.tenancy import Operation
from polyfhir_gateway.api.fhir_json import read_body
from polyfhir_gateway.api.routes_bulk import (
    bulk_jobs,
    cancel_job,
    finished_job,
    manifest_response,
    require_async,
    start_job,
)
from polyfhir_gateway.bulk.access import require_import
from polyfhir_gateway.bulk.import_job import IMPORT, ImportCheckpoint
from polyfhir_gateway.bulk.import_request import ImportRequest, read_import_request
from polyfhir_gateway.context import FhirContext, fhir_context

router = APIRouter(prefix="/fhir")
Ctx = Annotated[FhirContext, Depends(fhir_context)]


@router.post("/$import")
async def import_kick_off(fc: Ctx) -> Response:
    require_async(fc)
    body = await read_body(fc.request, fc.settings.max_body_bytes)
    request = read_import_request(
        body,
        request=str(fc.request.url),
        now=datetime.now(UTC),
        allowed_dir=fc.settings.bulk_import_dir,
        s3=fc.settings.bulk_storage == "s3",
    )
    require_import(fc.tenant.permissions, [item.type for item in request.inputs])
    return await start_job(fc, IMPORT, Operation.CREATE, request.params(), "$import-status")


@router.get("/$import-status/{job_id}")
async def import_status(job_id: str, fc: Ctx) -> Response:
    status = await finished_job(fc, IMPORT, Operation.CREATE, job_id)
    if isinstance(status, Response):
        return status
    jobs, job = bulk_jobs(fc.request), status.job
    request = ImportRequest.of(job.params)
    done = ImportCheckpoint.of(job.checkpoint)
    manifest = {
        "transactionTime": job.params["transaction_time"],
        "request": request.request,
        "requiresAccessToken": fc.settings.bulk_s3_presign_s is None,
        "output": [
            {"type": item.type, "inputUrl": item.url, "count": count}
            for item, count in zip(request.inputs, done.imported, strict=False)
        ],
        "error": await jobs.file_urls(job, done.error, fc.base),
    }
    return manifest_response(status, manifest)


@router.delete("/$import-status/{job_id}")
async def import_cancel(job_id: str, fc: Ctx) -> Response:
    return await cancel_job(fc, IMPORT, Operation.CREATE, job_id)
