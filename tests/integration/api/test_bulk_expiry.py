"""A finished export's files expire: the status answers 404 and the sweep removes them
(a gateway with a one-second expiry, over SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from bulk_client import kick_off, manifest
from polyfhir_gateway.app import create_app
from polyfhir_gateway.settings import GatewaySettings
from support import eventually

pytestmark = pytest.mark.integration


async def test_expired_exports_are_gone(store_app: Any, tmp_path: Path) -> None:
    settings = GatewaySettings(bulk_output_dir=str(tmp_path), bulk_expire_after_s=1.0)
    app = create_app(store_app.service, settings)
    headers = {"X-Tenant-ID": f"t{uuid.uuid4().hex[:12]}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver/fhir", headers=headers
    ) as fhir:
        await fhir.put("/Patient/x", json={"resourceType": "Patient", "id": "x"})
        status_url = await kick_off(fhir, "/$export")
        body = await manifest(fhir, status_url)
        job_folder = tmp_path / status_url.rsplit("/", 1)[1]
        assert job_folder.is_dir()

        async def expired() -> bool | None:
            gone = (await fhir.get(status_url)).status_code == 404
            return True if gone else None

        await eventually(expired, within=30.0, what="the export to expire")
        assert (await fhir.get(body["output"][0]["url"])).status_code == 404
        assert not job_folder.exists()
    await app.state.jobs.close()


async def test_a_tenant_at_its_limit_gets_429_with_retry_after(
    store_app: Any, tmp_path: Path
) -> None:
    import asyncio

    from polyfhir_servicekit.jobs import JobKind, JobRun

    settings = GatewaySettings(bulk_output_dir=str(tmp_path), bulk_max_jobs_per_tenant=1)
    app = create_app(store_app.service, settings)
    release = asyncio.Event()

    async def held(run: JobRun) -> None:  # an export that runs until released
        await release.wait()

    app.state.jobs.kinds["export"] = JobKind("export", held)
    headers = {"X-Tenant-ID": f"t{uuid.uuid4().hex[:12]}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver/fhir", headers=headers
    ) as fhir:
        status_url = await kick_off(fhir, "/$export")
        refused = await fhir.get("/$export", headers={"prefer": "respond-async"})
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == str(settings.bulk_retry_after_s)
        assert refused.json()["resourceType"] == "OperationOutcome"
        running = await fhir.get(status_url)
        assert running.status_code == 202 and running.headers["x-progress"]
        release.set()
    await app.state.jobs.close()
