"""Administration (``X-Tenant-ID`` selects the tenant).

POST   /admin/reindex            {"resourceTypes": ["Patient"]}  -> 202 + job
GET    /admin/reindex/{job}      -> job (state, done, total)
DELETE /admin/reindex/{job}      -> cancels between batches -> job
GET    /admin/jobs[?kind=reindex&_count=N] -> the tenant's durable jobs (every kind), newest first
GET    /admin/backends           -> every configured backend and its health state
GET    /admin/explain[/{type}]?… -> the query plan of a search, without running it
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Response

from polyfhir_core.errors import BadRequest
from polyfhir_core.jobs import Job
from polyfhir_core.resources import format_instant
from polyfhir_core.search import parse_search
from polyfhir_gateway.api.interactions import require_type
from polyfhir_gateway.context import FhirContext, fhir_context

router = APIRouter(prefix="/admin")
Ctx = Annotated[FhirContext, Depends(fhir_context)]


MAX_JOBS_LISTED = 1000


def job_json(job: Job) -> dict[str, Any]:
    """Any durable job as the admin API shows it (a reindex also has ``resourceTypes``)."""
    body: dict[str, Any] = {
        "id": job.id,
        "tenant": job.tenant,
        "kind": job.kind,
        "state": job.state.value,
        "done": job.done,
        "total": job.total,
        "counters": job.counters,
        "params": job.params,
        "checkpoint": job.checkpoint,
        "cancelRequested": job.cancel_requested,
        "started": format_instant(job.started),
        "heartbeat": format_instant(job.heartbeat) if job.heartbeat else None,
        "finished": format_instant(job.finished) if job.finished else None,
        "error": job.error,
    }
    if job.kind == "reindex":
        body["resourceTypes"] = job.params.get("resourceTypes")
    return body


def _response(job: Job, status: int = 200) -> Response:
    return Response(
        orjson.dumps(job_json(job)),
        status_code=status,
        media_type="application/json",
        headers={"Content-Location": f"/admin/reindex/{job.id}"},
    )


@router.post("/reindex")
async def start_reindex(fc: Ctx) -> Response:
    raw = await fc.request.body()
    try:
        body = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"reindex: the body is not JSON: {exc}") from exc
    types = body.get("resourceTypes") if isinstance(body, dict) else None
    if types is not None and (
        not isinstance(types, list) or not all(isinstance(t, str) for t in types)
    ):
        raise BadRequest("reindex: resourceTypes must be a list of resource type names")
    job = await fc.store.reindex(fc.tenant, types)
    return _response(job, 202)


@router.get("/reindex/{job_id}")
async def reindex_status(job_id: str, fc: Ctx) -> Response:
    return _response(await fc.store.reindex_status(fc.tenant, job_id))


@router.delete("/reindex/{job_id}")
async def cancel_reindex(job_id: str, fc: Ctx) -> Response:
    return _response(await fc.store.reindex_cancel(fc.tenant, job_id))


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _listed_count(raw: str | None) -> int:
    if raw is None:
        return 100
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_JOBS_LISTED:
        raise BadRequest(f"_count must be a whole number from 1 to {MAX_JOBS_LISTED}")
    return int(raw)


@router.get("/jobs")
async def list_jobs(fc: Ctx) -> Response:
    """The tenant's jobs of every kind (reindex, reconcile, rebuild), newest first."""
    params = fc.request.query_params
    limit = _listed_count(params.get("_count"))
    jobs = await fc.store.list_jobs(fc.tenant, params.get("kind") or None, limit)
    return _json({"jobs": [job_json(job) for job in jobs]})


@router.get("/backends")
async def backends(fc: Ctx) -> Response:
    """The primary (checked now) and each secondary as the health monitor sees it."""
    config = fc.pipeline.config
    try:
        await fc.store.check_ready()
        primary_state, error = "healthy", None
    except Exception as exc:  # reported, not raised: this endpoint describes failures
        primary_state, error = "unhealthy", str(exc)
    monitored = {b["id"]: b for b in fc.pipeline.monitor.to_json()}
    out: list[dict[str, Any]] = []
    for backend in config.backends:
        entry: dict[str, Any] = {
            "id": backend.id,
            "role": backend.role.value,
            "kind": backend.kind.value,
            "enabled": backend.enabled,
        }
        if backend is config.primary:
            entry.update(state=primary_state, lastError=error)
        elif backend.id in monitored:
            entry.update(monitored[backend.id])
            repair = fc.pipeline.convergence.status.get(backend.id)
            if repair is not None:  # the index's own completeness and its automatic repair
                entry["index"] = repair.to_json()
        else:
            entry["state"] = "not_queried" if backend.enabled else "disabled"
        out.append(entry)
    return _json(
        {
            "backends": out,
            "writesWaitFor": [b.id for b in fc.pipeline.writes.backends],
            "promotions": fc.pipeline.monitor.promotions(),
        }
    )


def _explain(fc: FhirContext, rtype: str | None) -> Response:
    query = parse_search(rtype, list(fc.request.query_params.multi_items()))
    return _json(fc.pipeline.plan(query).to_json())


@router.get("/explain")
async def explain_system(fc: Ctx) -> Response:
    return _explain(fc, None)


@router.get("/explain/{rtype}")
async def explain(rtype: str, fc: Ctx) -> Response:
    return _explain(fc, require_type(rtype))
