"""Token :below, :above, :in and :not-in against CodeSystems and ValueSets stored in the tenant."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.integration

SYS = "http://example.org/fhir/CodeSystem/findings"
VS = "http://example.org/fhir/ValueSet/cardio"

CODESYSTEM = {
    "resourceType": "CodeSystem",
    "url": SYS,
    "status": "active",
    "content": "complete",
    "hierarchyMeaning": "is-a",
    "concept": [
        {
            "code": "disorder",
            "concept": [
                {
                    "code": "heart",
                    "concept": [
                        {"code": "arrhythmia", "concept": [{"code": "afib"}]},
                        {"code": "infarct"},
                    ],
                },
                {"code": "lung", "concept": [{"code": "asthma"}]},
            ],
        },
        {"code": "other-afib-parent"},
        {"code": "flutter", "property": [{"code": "parent", "valueCode": "arrhythmia"}]},
    ],
}


def observation(code: str, system: str = SYS) -> dict[str, object]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": system, "code": code}]},
    }


async def _seed(fhir: httpx.AsyncClient) -> dict[str, str]:
    assert (await fhir.post("/CodeSystem", json=CODESYSTEM)).status_code == 201
    ids = {}
    for code in ("afib", "infarct", "asthma", "flutter", "heart", "unrelated"):
        ids[code] = (await fhir.post("/Observation", json=observation(code))).json()["id"]
    ids["elsewhere"] = (
        await fhir.post("/Observation", json=observation("afib", "http://other"))
    ).json()["id"]
    return ids


async def _codes(fhir: httpx.AsyncClient, ids: dict[str, str], **params: str) -> set[str]:
    response = await fhir.get("/Observation", params=params)
    assert response.status_code == 200, response.text
    by_id = {v: k for k, v in ids.items()}
    return {by_id[e["resource"]["id"]] for e in response.json()["entry"]}


async def test_below_and_above(fhir: httpx.AsyncClient) -> None:
    ids = await _seed(fhir)
    assert await _codes(fhir, ids, **{"code:below": f"{SYS}|heart"}) == {
        "heart",
        "afib",
        "infarct",
        "flutter",
    }
    assert await _codes(fhir, ids, **{"code:below": f"{SYS}|arrhythmia"}) == {"afib", "flutter"}
    assert await _codes(fhir, ids, **{"code:above": f"{SYS}|afib"}) == {"afib", "heart"}
    assert await _codes(fhir, ids, **{"code:below": "afib"}) == {
        "afib",
        "elsewhere",
    }  # no system: any


async def test_in_and_not_in_follow_valueset_rules(fhir: httpx.AsyncClient) -> None:
    ids = await _seed(fhir)
    valueset = {
        "resourceType": "ValueSet",
        "url": VS,
        "status": "active",
        "compose": {
            "include": [
                {
                    "system": SYS,
                    "filter": [{"property": "concept", "op": "is-a", "value": "heart"}],
                },
                {"system": SYS, "concept": [{"code": "asthma"}]},
            ],
            "exclude": [{"system": SYS, "concept": [{"code": "infarct"}]}],
        },
    }
    assert (await fhir.post("/ValueSet", json=valueset)).status_code == 201
    assert await _codes(fhir, ids, **{"code:in": VS}) == {"heart", "afib", "flutter", "asthma"}
    assert await _codes(fhir, ids, **{"code:not-in": VS}) == {"infarct", "unrelated", "elsewhere"}
    assert await _codes(fhir, ids, **{"code:in": VS + "|1.0"}) == {
        "heart",
        "afib",
        "flutter",
        "asthma",
    }


async def test_hierarchy_follows_codesystem_changes(fhir: httpx.AsyncClient) -> None:
    ids = await _seed(fhir)
    cs_id = (await fhir.get("/CodeSystem")).json()["entry"][0]["resource"]["id"]
    flat = {
        **CODESYSTEM,
        "id": cs_id,
        "concept": [{"code": c} for c in ("heart", "afib", "infarct")],
    }
    assert (await fhir.put(f"/CodeSystem/{cs_id}", json=flat)).status_code == 200
    assert await _codes(fhir, ids, **{"code:below": f"{SYS}|heart"}) == {"heart"}
    assert (await fhir.delete(f"/CodeSystem/{cs_id}")).status_code == 204
    assert await _codes(fhir, ids, **{"code:above": f"{SYS}|afib"}) == {"afib"}


async def test_terminology_is_per_tenant(server, fhir: httpx.AsyncClient, tenant: str) -> None:  # type: ignore[no-untyped-def]
    await fhir.post("/CodeSystem", json=CODESYSTEM)
    async with server.client(tenant + "-b") as other:
        await other.post("/Observation", json=observation("afib"))
        response = await other.get("/Observation", params={"code:below": f"{SYS}|heart"})
    assert response.json()["total"] == 0
