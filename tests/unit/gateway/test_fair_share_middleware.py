"""The fair-share middleware in front of a small app (in memory, no sockets): the
running-jobs bound, admin routes left alone, unresolvable callers passed through."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import orjson
from fastapi import FastAPI

from fakes.jobs import FakeJobStore
from polyfhir_core.jobs import Job, JobState
from polyfhir_gateway.fairshare.middleware import FairShareMiddleware
from polyfhir_gateway.settings import GatewaySettings


def _app(limits: dict[str, object], jobs: FakeJobStore) -> FastAPI:
    settings = GatewaySettings(tenant_limits=orjson.dumps(limits).decode())
    app = FastAPI()
    app.state.settings = settings
    app.state.token_verifier = None

    @app.post("/admin/reindex")
    async def reindex() -> dict[str, str]:
        return {"started": "yes"}

    @app.get("/admin/jobs")
    async def list_jobs() -> dict[str, list[str]]:
        return {"jobs": []}

    @app.get("/fhir/Patient")
    async def search() -> dict[str, str]:
        return {"resourceType": "Bundle"}

    app.add_middleware(FairShareMiddleware, settings=settings, jobs=jobs)
    return app


def _client(app: FastAPI, tenant: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        headers={"X-Tenant-ID": tenant},
    )


def _job(tenant: str, state: JobState) -> Job:
    return Job(f"{tenant}-{state.value}", tenant, "reindex", {}, datetime.now(UTC), state=state)


async def test_a_job_kick_off_over_the_running_jobs_bound_is_429() -> None:
    jobs = FakeJobStore()
    for job in (_job("busy", JobState.RUNNING), _job("idle", JobState.COMPLETED)):
        jobs.jobs[job.id] = job
    app = _app({"default": {"max_jobs": 1, "retry_after_s": 7}}, jobs)
    async with _client(app, "busy") as busy, _client(app, "idle") as idle:
        refused = await busy.post("/admin/reindex")
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "7"
        assert refused.json()["issue"][0]["code"] == "throttled"
        assert "1 jobs" in refused.json()["issue"][0]["diagnostics"]
        assert (await idle.post("/admin/reindex")).status_code == 200  # a finished job is done


async def test_admin_reads_are_never_rate_limited() -> None:
    app = _app({"default": {"rate": 0.001, "burst": 1}}, FakeJobStore())
    async with _client(app, "t") as client:
        assert (await client.get("/fhir/Patient")).status_code == 200
        assert (await client.get("/fhir/Patient")).status_code == 429
        assert [(await client.get("/admin/jobs")).status_code for _ in range(5)] == [200] * 5


async def test_a_caller_that_cannot_be_resolved_is_left_to_the_route() -> None:
    app = _app({"default": {"rate": 0.001, "burst": 1}}, FakeJobStore())
    async with _client(app, "not a tenant!") as client:
        # the real routes answer this 400; the limiter neither counts nor refuses it
        assert [(await client.get("/fhir/Patient")).status_code for _ in range(3)] == [200] * 3


async def test_without_limits_nothing_is_refused() -> None:
    app = _app({}, FakeJobStore())
    async with _client(app, "t") as client:
        assert [(await client.get("/fhir/Patient")).status_code for _ in range(50)] == [200] * 50
