"""Bulk Data Access IG v2.0.0: ``$export`` kick-off (system, Patient, Group), status,
manifest, cancellation and the files; ``$import`` (routes_import.py).

Every bulk route is in this module (and routes_import.py), so one guard (SMART scopes)
covers them. The status and file URLs check the job's tenant like any read.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse

from polyfhir_core.errors import BadRequest, Issue, operation_outcome
from polyfhir_core.jobs import JobState
from polyfhir_core.resources import check_id
from polyfhir_core.search import parse_search
from polyfhir_core.tenancy import Operation
from polyfhir_gateway.api.fhir_json import fhir_response, http_date, read_body
from polyfhir_gateway.bulk.access import bulk_caller, export_within_scopes
from polyfhir_gateway.bulk.export_job import EXPORT, ExportCheckpoint
from polyfhir_gateway.bulk.export_request import (
    ExportLevel,
    parameters_pairs,
    read_export_request,
)
from polyfhir_gateway.bulk.exports import (
    BulkJobs,
    JobStatus,
    TooManyJobs,
    export_manifest,
    progress,
)
from polyfhir_gateway.context import FhirContext, fhir_context, request_tenant

router = APIRouter(prefix="/fhir")
Ctx = Annotated[FhirContext, Depends(fhir_context)]
NDJSON = "application/fhir+ndjson"


def bulk_jobs(request: Request) -> BulkJobs:
    jobs: BulkJobs = request.app.state.bulk
    return jobs


def require_async(fc: FhirContext) -> None:
    """The IG's kick-off rule: ``Prefer: respond-async`` is required."""
    items = {
        item.strip().lower()
        for header in fc.request.headers.getlist("prefer")
        for item in header.split(",")
    }
    if "respond-async" not in items:
        raise BadRequest("a bulk kick-off needs the header Prefer: respond-async")


async def kickoff_pairs(fc: FhirContext) -> list[tuple[str, str]]:
    if fc.request.method == "POST":
        return parameters_pairs(await read_body(fc.request, fc.settings.max_body_bytes))
    return [(k, v) for k, v in fc.request.query_params.multi_items() if k != "_format"]


async def check_type_filters(fc: FhirContext, filters: dict[str, list[str]]) -> None:
    """A ``_typeFilter`` the primary cannot answer in full is a 400 now, not a failed job."""
    for rtype, queries in filters.items():
        for query in queries:
            pairs = [*parse_qsl(query, keep_blank_values=True), ("_count", "1")]
            page = await fc.store.search(
                fc.tenant, parse_search(rtype, [*pairs, ("_total", "none")])
            )
            if page.ignored:
                raise BadRequest(
                    f"_typeFilter {rtype}?{query}: unsupported parameters {page.ignored}"
                )


async def kick_off(fc: FhirContext, level: ExportLevel, group_id: str | None = None) -> Response:
    require_async(fc)
    pairs = await kickoff_pairs(fc)
    if group_id is not None:
        await fc.store.read(fc.tenant, "Group", check_id(group_id))  # 404 / 410 now, not later
    export = read_export_request(
        pairs,
        level,
        request=str(fc.request.url),
        now=datetime.now(UTC),
        strict=fc.prefer.handling == "strict",
        group_id=group_id,
    )
    explicit = any(name == "_type" for name, _ in pairs)
    export = export_within_scopes(fc.tenant.permissions, export, explicit)
    await check_type_filters(fc, export.type_filters)
    return await start_job(fc, EXPORT, Operation.READ, export.params(), "$export-status")


@router.api_route("/$export", methods=["GET", "POST"])
async def export_system(fc: Ctx) -> Response:
    return await kick_off(fc, ExportLevel.SYSTEM)


@router.api_route("/Patient/$export", methods=["GET", "POST"])
async def export_patients(fc: Ctx) -> Response:
    return await kick_off(fc, ExportLevel.PATIENT)


@router.api_route("/Group/{group_id}/$export", methods=["GET", "POST"])
async def export_group(group_id: str, fc: Ctx) -> Response:
    return await kick_off(fc, ExportLevel.GROUP, group_id)


# -- the job life cycle both bulk operations share ($export, $import) ------------------------


async def start_job(
    fc: FhirContext, kind: str, operation: Operation, params: dict[str, Any], status_path: str
) -> Response:
    """Kick-off: 202 with the status URL, or 429 + ``Retry-After`` over the tenant's limit."""
    try:
        job = await bulk_jobs(fc.request).start(bulk_caller(fc.tenant, operation), kind, params)
    except TooManyJobs as exc:
        retry = str(fc.settings.bulk_retry_after_s)
        return fhir_response(exc.outcome(), exc.status, {"retry-after": retry})
    return fhir_response(None, 202, {"content-location": f"{fc.base}/{status_path}/{job.id}"})


async def finished_job(
    fc: FhirContext, kind: str, operation: Operation, job_id: str
) -> JobStatus | Response:
    """The job's status once it completed, else the answer for a running (202 +
    ``X-Progress``) or failed (500 OperationOutcome) job."""
    status = await bulk_jobs(fc.request).status(bulk_caller(fc.tenant, operation), kind, job_id)
    job = status.job
    if job.state is JobState.RUNNING:
        retry_after = str(fc.settings.bulk_retry_after_s)
        return Response(
            status_code=202, headers={"x-progress": progress(job), "retry-after": retry_after}
        )
    if job.state is JobState.FAILED:
        issue = Issue(code="exception", diagnostics=f"the {kind} failed: {job.error}")
        return fhir_response(operation_outcome([issue]), 500)
    return status


def manifest_response(status: JobStatus, manifest: dict[str, Any]) -> Response:
    headers = {"expires": http_date(status.expires)} if status.expires else {}
    return fhir_response(manifest, 200, headers)


async def cancel_job(fc: FhirContext, kind: str, operation: Operation, job_id: str) -> Response:
    await bulk_jobs(fc.request).cancel(bulk_caller(fc.tenant, operation), kind, job_id)
    return Response(status_code=202)


@router.get("/$export-status/{job_id}")
async def export_status(job_id: str, fc: Ctx) -> Response:
    status = await finished_job(fc, EXPORT, Operation.READ, job_id)
    if isinstance(status, Response):
        return status
    jobs, job = bulk_jobs(fc.request), status.job
    done = ExportCheckpoint.of(job.checkpoint)
    files = [await jobs.file_urls(job, f, fc.base) for f in (done.output, done.deleted, done.error)]
    manifest = export_manifest(job, fc.settings.bulk_s3_presign_s is None, *files)
    return manifest_response(status, manifest)


@router.delete("/$export-status/{job_id}")
async def export_cancel(job_id: str, fc: Ctx) -> Response:
    return await cancel_job(fc, EXPORT, Operation.READ, job_id)


@router.get("/$bulk-file/{job_id}/{name}")
async def bulk_file(job_id: str, name: str, request: Request) -> Response:
    """A job's file (NDJSON: not under the FHIR JSON ``Accept`` rule of the API)."""
    ctx = bulk_caller(await request_tenant(request), Operation.READ)
    chunks = await bulk_jobs(request).read_file(ctx, job_id, name)
    return StreamingResponse(chunks, media_type=NDJSON)
