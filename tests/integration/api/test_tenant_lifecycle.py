"""The tenant lifecycle over the API (docs/tenancy.md "Lifecycle"): provision, list,
delete (a job that reports what it removed), provision again empty; other tenants,
and the tenants below the deleted one, keep their data."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from support import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
async def admin(server: Any, tenant: str) -> AsyncIterator[httpx.AsyncClient]:
    """The admin API as the tenant's administrator (tokens are off in this matrix)."""
    async with httpx.AsyncClient(
        base_url=server.base_url, transport=server.transport, headers={"X-Tenant-ID": tenant}
    ) as client:
        yield client


async def _finished_deletion(admin: httpx.AsyncClient, started: httpx.Response) -> dict[str, Any]:
    assert started.status_code == 202, started.text
    location = started.headers["Content-Location"]

    async def finished() -> dict[str, Any] | None:
        current = await admin.get(location)
        assert current.status_code == 200, current.text
        body: dict[str, Any] = current.json()
        return body if body["state"] != "running" else None

    # Longer than the job's own bound on a secondary's catch-up (30 s, deletion.py):
    # a loaded machine may need it, and a job that never ends still fails here.
    return await eventually(finished, 120.0, what="the tenant deletion to finish")


async def _write(fhir: httpx.AsyncClient) -> None:
    patient = {"resourceType": "Patient", "id": "p1", "name": [{"family": "Lifecycle"}]}
    assert (await fhir.put("/Patient/p1", json=patient)).status_code == 201
    patient["gender"] = "female"
    assert (await fhir.put("/Patient/p1", json=patient)).status_code == 200
    observation = {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "code": {"text": "weight"},
        "subject": {"reference": "Patient/p1"},
    }
    assert (await fhir.put("/Observation/o1", json=observation)).status_code == 201


async def test_provision_write_delete_and_provision_again(
    server: Any, admin: httpx.AsyncClient, tenant: str
) -> None:
    child, other = f"{tenant}/research", f"o{uuid.uuid4().hex[:12]}"
    created = await admin.post("/admin/tenants", json={"id": tenant})
    assert created.status_code == 201, created.text
    assert created.json()["state"] == "active" and created.json()["resources"] == 0
    assert (await admin.post("/admin/tenants", json={"id": tenant})).status_code == 200
    assert (await admin.post("/admin/tenants", json={"id": child})).status_code == 201
    async with server.client(tenant) as fhir, server.client(other) as fhir_other:
        await _write(fhir)
        await _write(fhir_other)  # the first write registers the other tenant

        listed = (await admin.get("/admin/tenants")).json()["tenants"]
        assert [(t["id"], t["resources"]) for t in listed] == [(tenant, 2), (child, 0)]
        described = await admin.get(f"/admin/tenants/{tenant}")
        assert described.json()["resources"] == 2

        job = await _finished_deletion(admin, await admin.delete(f"/admin/tenants/{tenant}"))
        assert job["state"] == "completed", job
        primary = job["removed"]["primary"]
        assert primary["resources"] == 2 and primary["resource_versions"] == 3
        assert primary["tenants"] == 1
        if not {"schema", "database"} & primary.keys():  # shared: row by row, every table
            assert primary["idx_reference"] >= 1

        assert (await fhir.get("/Patient/p1")).status_code == 404  # gone, not deleted
        assert (await fhir.get("/Observation", params={"subject": "Patient/p1"})).json()[
            "total"
        ] == 0
        history = (await fhir.get("/_history")).json()
        assert history.get("entry", []) == []
        assert (await admin.get(f"/admin/tenants/{tenant}")).status_code == 404
        assert (await admin.get(f"/admin/tenants/{child}")).status_code == 200  # not cascaded
        assert (await fhir_other.get("/Patient/p1")).json()["gender"] == "female"
        assert len((await fhir_other.get("/Patient/p1/_history")).json()["entry"]) == 2

        again = await admin.post("/admin/tenants", json={"id": tenant})
        assert again.status_code == 201 and again.json()["resources"] == 0
        assert (await fhir.get("/Patient")).json()["total"] == 0
        recreated = await fhir.put("/Patient/p1", json={"resourceType": "Patient", "id": "p1"})
        assert recreated.status_code == 201
        assert recreated.json()["meta"]["versionId"] == "1"


async def test_a_tenant_manages_only_itself_and_the_tenants_below_it(
    admin: httpx.AsyncClient, tenant: str
) -> None:
    sibling = f"s{uuid.uuid4().hex[:12]}"
    for call in (
        admin.post("/admin/tenants", json={"id": sibling}),
        admin.get(f"/admin/tenants/{sibling}"),
        admin.delete(f"/admin/tenants/{sibling}"),
    ):
        refused = await call
        assert refused.status_code == 403, refused.text
        assert refused.json()["resourceType"] == "OperationOutcome"


async def test_bad_tenant_requests_answer_4xx(admin: httpx.AsyncClient, tenant: str) -> None:
    assert (await admin.post("/admin/tenants", content=b"{nope")).status_code == 400
    assert (await admin.post("/admin/tenants", json={"name": tenant})).status_code == 400
    assert (await admin.post("/admin/tenants", json={"id": "bad tenant!"})).status_code == 400
    assert (await admin.delete(f"/admin/tenants/{tenant}/never")).status_code == 404
    assert (await admin.get("/admin/tenant-deletions/nope")).status_code == 404


async def test_deleting_a_tenant_empties_the_in_process_terminology_index(
    server: Any, admin: httpx.AsyncClient, tenant: str
) -> None:
    if not server.topology.startswith("inprocess"):
        pytest.skip("only `polyfhir run` has an in-process terminology index")
    code_system = {
        "resourceType": "CodeSystem",
        "id": "cs1",
        "url": "http://example.org/cs/lifecycle",
        "status": "active",
        "content": "complete",
        "concept": [{"code": "a", "display": "Alpha"}],
    }
    lookup = {"system": code_system["url"], "code": "a"}
    async with server.client(tenant) as fhir:
        written = await fhir.put("/CodeSystem/cs1", json=code_system)
        assert written.status_code == 201, written.text
        assert (await fhir.get("/CodeSystem/$lookup", params=lookup)).status_code == 200
        job = await _finished_deletion(admin, await admin.delete(f"/admin/tenants/{tenant}"))
        assert job["state"] == "completed", job
        assert job["removed"]["secondaries"] == {"terminology-fallback": 1}, job["removed"]
        gone = await fhir.get("/CodeSystem/$lookup", params=lookup)
        assert gone.status_code == 404, gone.text
