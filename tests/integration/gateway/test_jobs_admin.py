"""The admin API of durable jobs: repair jobs of a search secondary, reindex, and the
tenant's job list (over the in-process SQLite primary store and a fake search index)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from integration.gateway.harness import Gateway, build
from support import eventually

pytestmark = pytest.mark.integration


async def _finished(gw: Gateway, path: str) -> dict[str, Any]:
    async def ended() -> dict[str, Any] | None:
        async with gw.client() as c:
            job: dict[str, Any] = (await c.get(path)).json()
        return None if job["state"] == "running" else job

    job: dict[str, Any] = await eventually(ended, what=path)
    return job


async def test_a_reconcile_runs_as_a_durable_job_with_progress(primary: Any) -> None:
    gw = build(primary)
    await gw.patient("alpha")
    await gw.patient("beta", index=False)
    async with gw.client() as c:
        started = await c.post("/admin/backends/search/reconcile")
    assert started.status_code == 202, started.text
    body = started.json()
    assert (body["backend"], body["kind"], body["state"]) == ("search", "reconcile", "running")
    location = started.headers["content-location"]
    assert location == f"/admin/backends/search/jobs/{body['id']}"
    job = await _finished(gw, location)
    assert job["state"] == "completed", job
    assert job["progress"]["compared"] == 2
    assert job["progress"]["missing"] == 1  # beta: republished
    assert job["checkpoint"]["phase"] in ("primary", "index")
    assert job["finished"] is not None and job["cancelRequested"] is False
    async with gw.client() as c:
        listed = (await c.get("/admin/jobs")).json()["jobs"]
        reconciles = (await c.get("/admin/jobs", params={"kind": "reconcile"})).json()["jobs"]
        cancelled_late = await c.delete(location)  # an ended job stays as it ended
    assert [j["id"] for j in listed] == [body["id"]]
    assert [j["id"] for j in reconciles] == [body["id"]]
    assert cancelled_late.json()["state"] == "completed"


async def test_reindex_and_repair_jobs_share_one_list_newest_first(primary: Any) -> None:
    gw = build(primary)
    await gw.patient("gamma")
    async with gw.client() as c:
        reindex = (await c.post("/admin/reindex", json={"resourceTypes": ["Patient"]})).json()
        rebuild = (await c.post("/admin/backends/search/rebuild")).json()
    done = await _finished(gw, f"/admin/reindex/{reindex['id']}")
    rebuilt = await _finished(gw, f"/admin/backends/search/jobs/{rebuild['id']}")
    assert (done["state"], done["done"], done["total"]) == ("completed", 1, 1)
    assert done["resourceTypes"] == ["Patient"] and done["kind"] == "reindex"
    assert rebuilt["state"] == "completed" and rebuilt["progress"]["republished"] == 1
    async with gw.client() as c:
        listed = (await c.get("/admin/jobs")).json()["jobs"]
    assert [j["id"] for j in listed] == [rebuild["id"], reindex["id"]]
    assert {j["kind"] for j in listed} == {"reindex", "rebuild"}


async def test_jobs_are_not_found_across_tenants_kinds_or_backends(primary: Any) -> None:
    gw = build(primary)
    async with gw.client() as c:
        reindex = (await c.post("/admin/reindex")).json()
        as_repair = await c.get(f"/admin/backends/search/jobs/{reindex['id']}")
        unknown_backend = await c.post("/admin/backends/nope/reconcile")
        bad_count = await c.get("/admin/jobs", params={"_count": "0"})
    async with httpx.AsyncClient(
        base_url="http://testserver", transport=gw.transport, headers={"X-Tenant-ID": "other1"}
    ) as other:
        foreign = await other.get(f"/admin/reindex/{reindex['id']}")
        foreign_list = (await other.get("/admin/jobs")).json()["jobs"]
    for answer in (as_repair, unknown_backend, foreign):
        assert answer.status_code == 404, answer.text
        assert answer.json()["resourceType"] == "OperationOutcome"
    assert bad_count.status_code == 400
    assert all(j["id"] != reindex["id"] for j in foreign_list)
