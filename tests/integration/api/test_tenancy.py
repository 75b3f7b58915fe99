"""No interaction ever reads, overwrites or lists another tenant's data."""

from __future__ import annotations

import uuid

import httpx
import pytest

pytestmark = pytest.mark.integration

MRN = "http://hospital.example/mrn"


def patient(value: str) -> dict[str, object]:
    return {
        "resourceType": "Patient",
        "id": "shared-id",
        "identifier": [{"system": MRN, "value": value}],
    }


@pytest.fixture
async def two_tenants(server):  # type: ignore[no-untyped-def]
    base = f"acme{uuid.uuid4().hex[:8]}"
    async with server.client(base) as a, server.client(f"{base}/research") as b:
        yield a, b


async def test_same_id_in_two_tenants_is_two_resources(
    two_tenants: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    a, b = two_tenants
    assert (await a.put("/Patient/shared-id", json=patient("A"))).status_code == 201
    assert (
        await b.put("/Patient/shared-id", json=patient("B"))
    ).status_code == 201  # not an update of A's
    assert (await a.get("/Patient/shared-id")).json()["identifier"][0]["value"] == "A"
    assert (await b.get("/Patient/shared-id")).json()["identifier"][0]["value"] == "B"
    assert (await a.get("/Patient/shared-id")).json()["meta"]["versionId"] == "1"


async def test_reads_searches_and_history_stay_in_tenant(
    two_tenants: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    a, b = two_tenants
    rid = (await a.post("/Patient", json=patient("ONLY-A"))).json()["id"]
    assert (await b.get(f"/Patient/{rid}")).status_code == 404
    assert (await b.get(f"/Patient/{rid}/_history/1")).status_code == 404
    assert (await b.get("/Patient", params={"identifier": f"{MRN}|ONLY-A"})).json()["total"] == 0
    assert (await b.get("/Patient", params={"_id": rid})).json()["total"] == 0
    assert (await b.get("/_history")).json()["entry"] == []
    assert (await b.get(f"/Patient/{rid}/_history")).json()["entry"] == []


async def test_writes_cannot_touch_another_tenant(
    two_tenants: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    a, b = two_tenants
    rid = (await a.post("/Patient", json=patient("KEEP"))).json()["id"]
    assert (await b.delete(f"/Patient/{rid}")).status_code == 204  # nothing to delete in b
    assert (await b.delete("/Patient", params={"identifier": f"{MRN}|KEEP"})).status_code == 204
    import orjson

    patch = await b.patch(
        f"/Patient/{rid}",
        content=orjson.dumps([{"op": "add", "path": "/gender", "value": "male"}]),
        headers={"content-type": "application/json-patch+json"},
    )
    assert patch.status_code == 404
    cond = await b.post(
        "/Patient", json=patient("KEEP"), headers={"If-None-Exist": f"identifier={MRN}|KEEP"}
    )
    assert cond.status_code == 201  # no match in b: a new resource in b
    ref = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "x"},
        "subject": {"reference": f"Patient?identifier={MRN}|KEEP"},
    }
    tx = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"resource": ref, "request": {"method": "POST", "url": "Observation"}}],
    }
    linked = await b.post("", json=tx)
    assert linked.status_code == 200
    obs = (await b.get("/Observation")).json()["entry"][0]["resource"]
    assert obs["subject"]["reference"] == f"Patient/{cond.json()['id']}"  # b's patient, never a's
    current = (await a.get(f"/Patient/{rid}")).json()
    assert current["meta"]["versionId"] == "1"
    assert "gender" not in current


@pytest.mark.parametrize("bad", ["../etc", "a b", "x" * 70, "/", "acme//x"])
async def test_invalid_tenant_header_is_400(server, bad: str) -> None:  # type: ignore[no-untyped-def]
    async with server.client(bad) as client:
        response = await client.get("/Patient")
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"
