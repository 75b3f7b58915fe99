"""Conditional create, update and delete — 0, 1 and many matches (http.html)."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.integration

SYSTEM = "http://hospital.example/mrn"


def patient(mrn: str, family: str = "Doe", **extra: object) -> dict[str, object]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": SYSTEM, "value": mrn}],
        "name": [{"family": family}],
        **extra,
    }


async def test_conditional_create(fhir: httpx.AsyncClient) -> None:
    header = {"If-None-Exist": f"identifier={SYSTEM}|A1"}
    first = await fhir.post("/Patient", json=patient("A1"), headers=header)
    assert first.status_code == 201
    second = await fhir.post("/Patient", json=patient("A1", "Other"), headers=header)
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["name"][0]["family"] == "Doe"  # nothing was written
    search = await fhir.get("/Patient", params={"identifier": f"{SYSTEM}|A1"})
    assert search.json()["total"] == 1


async def test_conditional_create_many_matches_is_412(fhir: httpx.AsyncClient) -> None:
    for _ in range(2):
        assert (await fhir.post("/Patient", json=patient("DUP"))).status_code == 201
    response = await fhir.post(
        "/Patient", json=patient("DUP"), headers={"If-None-Exist": f"identifier={SYSTEM}|DUP"}
    )
    assert response.status_code == 412
    assert response.json()["resourceType"] == "OperationOutcome"


async def test_conditional_create_with_unsupported_criteria_is_400(fhir: httpx.AsyncClient) -> None:
    response = await fhir.post(
        "/Patient", json=patient("X"), headers={"If-None-Exist": "unknown-param=1"}
    )
    assert response.status_code == 400


async def test_conditional_update_no_match_creates(fhir: httpx.AsyncClient) -> None:
    response = await fhir.put("/Patient", params={"identifier": f"{SYSTEM}|U1"}, json=patient("U1"))
    assert response.status_code == 201
    rid = response.json()["id"]
    again = await fhir.put(
        "/Patient", params={"identifier": f"{SYSTEM}|U1"}, json=patient("U1", "Changed")
    )
    assert again.status_code == 200
    assert again.json()["id"] == rid
    assert again.json()["meta"]["versionId"] == "2"
    assert again.json()["name"][0]["family"] == "Changed"


async def test_conditional_update_with_mismatched_id_is_400(fhir: httpx.AsyncClient) -> None:
    await fhir.put("/Patient", params={"identifier": f"{SYSTEM}|U2"}, json=patient("U2"))
    response = await fhir.put(
        "/Patient", params={"identifier": f"{SYSTEM}|U2"}, json=patient("U2", id="someone-else")
    )
    assert response.status_code == 400


async def test_conditional_update_many_matches_is_412(fhir: httpx.AsyncClient) -> None:
    for _ in range(2):
        await fhir.post("/Patient", json=patient("M1"))
    response = await fhir.put("/Patient", params={"identifier": f"{SYSTEM}|M1"}, json=patient("M1"))
    assert response.status_code == 412


async def test_conditional_delete(fhir: httpx.AsyncClient) -> None:
    none = await fhir.delete("/Patient", params={"identifier": f"{SYSTEM}|D0"})
    assert none.status_code == 204
    rid = (await fhir.post("/Patient", json=patient("D1"))).json()["id"]
    one = await fhir.delete("/Patient", params={"identifier": f"{SYSTEM}|D1"})
    assert one.status_code == 204
    assert (await fhir.get(f"/Patient/{rid}")).status_code == 410
    for _ in range(2):
        await fhir.post("/Patient", json=patient("D2"))
    many = await fhir.delete("/Patient", params={"identifier": f"{SYSTEM}|D2"})
    assert many.status_code == 412
    remaining = await fhir.get("/Patient", params={"identifier": f"{SYSTEM}|D2"})
    assert remaining.json()["total"] == 2


async def test_conditional_operations_need_criteria(fhir: httpx.AsyncClient) -> None:
    assert (await fhir.put("/Patient", json=patient("Z"))).status_code == 400
    assert (await fhir.delete("/Patient")).status_code == 400
