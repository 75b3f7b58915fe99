"""A tenant's own SearchParameters: validated, used by writes and searches, reindexed."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from support import NICKNAME, eventually

pytestmark = pytest.mark.integration


def patient(pid: str, nickname: str) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": pid,
        "name": [{"use": "official", "family": "Doe"}, {"use": "nickname", "given": [nickname]}],
    }


async def _ids(fhir: httpx.AsyncClient, **params: str) -> list[str]:
    response = await fhir.get("/Patient", params=params, headers={"Prefer": "handling=strict"})
    assert response.status_code == 200, response.text
    return sorted(e["resource"]["id"] for e in response.json().get("entry", []))


async def _reindexed(admin: httpx.AsyncClient, types: list[str] | None = None) -> dict[str, Any]:
    started = await admin.post("/admin/reindex", json={"resourceTypes": types})
    assert started.status_code == 202, started.text
    job = started.json()

    async def finished() -> dict[str, Any] | None:
        current = (await admin.get(f"/admin/reindex/{job['id']}")).json()
        return current if current["state"] != "running" else None

    return await eventually(finished, what="the reindex to finish")


async def test_custom_parameter_then_reindex(server, fhir: httpx.AsyncClient, tenant: str) -> None:  # type: ignore[no-untyped-def]
    for pid, nick in (("a", "Bobby"), ("b", "Liz")):
        assert (await fhir.put(f"/Patient/{pid}", json=patient(pid, nick))).status_code == 201
    strict = await fhir.get(
        "/Patient", params={"nickname": "bob"}, headers={"Prefer": "handling=strict"}
    )
    assert strict.status_code == 400  # not a parameter yet

    created = await fhir.put("/SearchParameter/patient-nickname", json=NICKNAME)
    assert created.status_code == 201, created.text
    # known now; resources written earlier have no rows until the reindex
    assert await _ids(fhir, nickname="bob") == []
    assert (await fhir.put("/Patient/c", json=patient("c", "Bobo"))).status_code == 201
    assert await _ids(fhir, nickname="bob") == ["c"]

    async with httpx.AsyncClient(
        base_url=server.base_url, transport=server.transport, headers={"X-Tenant-ID": tenant}
    ) as admin:
        job = await _reindexed(admin)
    assert job["state"] == "completed"
    assert job["done"] == job["total"] == 4  # three patients and the SearchParameter
    assert await _ids(fhir, nickname="bob") == ["a", "c"]
    assert await _ids(fhir, nickname="liz") == ["b"]


async def test_custom_parameters_stay_in_their_tenant(server, fhir: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    assert (await fhir.put("/SearchParameter/patient-nickname", json=NICKNAME)).status_code == 201
    async with server.client("another-tenant-of-this-test") as other:
        response = await other.get(
            "/Patient", params={"nickname": "x"}, headers={"Prefer": "handling=strict"}
        )
        assert response.status_code == 400


async def test_deleting_the_definition_forgets_the_parameter(fhir: httpx.AsyncClient) -> None:
    assert (await fhir.put("/SearchParameter/patient-nickname", json=NICKNAME)).status_code == 201
    assert (await fhir.get("/Patient", params={"nickname": "x"})).status_code == 200
    assert (await fhir.delete("/SearchParameter/patient-nickname")).status_code in (200, 204)
    gone = await fhir.get(
        "/Patient", params={"nickname": "x"}, headers={"Prefer": "handling=strict"}
    )
    assert gone.status_code == 400


@pytest.mark.parametrize(
    "change",
    [
        {"expression": "Patient.name.where("},
        {"type": "composite"},
        {"base": ["NotAType"]},
        {"expression": None},
    ],
    ids=["bad-fhirpath", "composite", "unknown-base", "no-expression"],
)
async def test_invalid_definitions_are_rejected(
    fhir: httpx.AsyncClient, change: dict[str, Any]
) -> None:
    definition = {k: v for k, v in {**NICKNAME, **change}.items() if v is not None}
    response = await fhir.put("/SearchParameter/patient-nickname", json=definition)
    assert response.status_code == 400, response.text
    assert response.json()["resourceType"] == "OperationOutcome"


async def test_reindex_admin_errors(server, tenant: str) -> None:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(
        base_url=server.base_url, transport=server.transport, headers={"X-Tenant-ID": tenant}
    ) as admin:
        assert (await admin.get("/admin/reindex/nope")).status_code == 404
        bad = await admin.post("/admin/reindex", content=b"{not json")
        assert bad.status_code == 400
        assert bad.json()["resourceType"] == "OperationOutcome"
        wrong = await admin.post("/admin/reindex", json={"resourceTypes": ["Nope"]})
        assert wrong.status_code == 400
        job = await _reindexed(admin, ["Patient"])
        assert job["state"] == "completed" and job["total"] == 0
