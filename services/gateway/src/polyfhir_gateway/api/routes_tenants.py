"""The tenant lifecycle (docs/tenancy.md "Lifecycle"; admin scope, like every /admin route).

POST   /admin/tenants                 {"id": "acme/research"} -> 201 (provisioned) / 200 (exists)
GET    /admin/tenants                 the caller's tenant and those below it, with counts
GET    /admin/tenants/{tenant}        one of them (404 when not registered)
DELETE /admin/tenants/{tenant}        -> 202 + a delete-tenant job (Content-Location)
GET    /admin/tenant-deletions/{job}  what the deletion removed so far, per store

A caller manages its own tenant and those below it (tenants/hierarchy.py); 403 otherwise.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Response

from polyfhir_core.contracts.primary_store import TenantRecord
from polyfhir_core.errors import BadRequest, NotFound
from polyfhir_core.jobs import Job
from polyfhir_core.resources import format_instant
from polyfhir_gateway.context import FhirContext, fhir_context
from polyfhir_gateway.tenants.deletion import DELETE_TENANT, deletion_json
from polyfhir_gateway.tenants.hierarchy import managed_tenant
from polyfhir_servicekit.jobs import JobRunner

router = APIRouter(prefix="/admin")
Ctx = Annotated[FhirContext, Depends(fhir_context)]


def tenant_json(record: TenantRecord) -> dict[str, Any]:
    return {
        "id": record.tenant,
        "created": format_instant(record.created),
        "state": record.state,
        "resources": record.resources,
    }


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
    )


def _runner(fc: FhirContext) -> JobRunner:
    runner: JobRunner = fc.request.app.state.jobs
    return runner


async def _requested_id(fc: FhirContext) -> str:
    raw = await fc.request.body()
    try:
        body = orjson.loads(raw) if raw.strip() else None
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"tenants: the body is not JSON: {exc}") from exc
    if not isinstance(body, dict) or not isinstance(body.get("id"), str):
        raise BadRequest('tenants: the body must be {"id": "<tenant id>"}')
    return str(body["id"])


@router.post("/tenants")
async def provision_tenant(fc: Ctx) -> Response:
    target = managed_tenant(fc.tenant, await _requested_id(fc))
    record = await fc.store.provision_tenant(target)
    status = 201 if record.provisioned_now else 200
    return _json(tenant_json(record), status, {"Location": f"/admin/tenants/{record.tenant}"})


@router.get("/tenants")
async def list_tenants(fc: Ctx) -> Response:
    records = await fc.store.list_tenants(fc.tenant)
    return _json({"tenants": [tenant_json(r) for r in records]})


@router.get("/tenants/{tenant:path}")
async def get_tenant(tenant: str, fc: Ctx) -> Response:
    return _json(tenant_json(await fc.store.get_tenant(managed_tenant(fc.tenant, tenant))))


def _deletion(job: Job, status: int = 200) -> Response:
    location = {"Content-Location": f"/admin/tenant-deletions/{job.id}"}
    return _json(deletion_json(job), status, location)


@router.delete("/tenants/{tenant:path}")
async def delete_tenant(tenant: str, fc: Ctx) -> Response:
    target = managed_tenant(fc.tenant, tenant)
    await fc.store.start_tenant_deletion(target)  # 404 when not registered
    job = await _runner(fc).submit(fc.tenant, DELETE_TENANT, {"tenant": target.tenant.value})
    return _deletion(job, 202)


@router.get("/tenant-deletions/{job_id}")
async def deletion_status(job_id: str, fc: Ctx) -> Response:
    job = await _runner(fc).get(fc.tenant, job_id)
    if job.kind != DELETE_TENANT:
        raise NotFound(f"no tenant deletion {job_id!r} in this tenant")
    return _deletion(job)
