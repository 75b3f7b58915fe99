"""Optimistic locking under real concurrency: one winner, gapless versions."""

from __future__ import annotations

import asyncio

import httpx
import pytest

pytestmark = pytest.mark.integration


async def test_concurrent_if_match_updates_have_exactly_one_winner(fhir: httpx.AsyncClient) -> None:
    rid = (await fhir.post("/Patient", json={"resourceType": "Patient"})).json()["id"]

    async def attempt(i: int) -> int:
        body = {"resourceType": "Patient", "id": rid, "name": [{"family": f"W{i}"}]}
        return (
            await fhir.put(f"/Patient/{rid}", json=body, headers={"If-Match": 'W/"1"'})
        ).status_code

    statuses = await asyncio.gather(*(attempt(i) for i in range(8)))
    assert sorted(statuses) == [200] + [412] * 7
    assert (await fhir.get(f"/Patient/{rid}")).json()["meta"]["versionId"] == "2"


async def test_concurrent_blind_updates_give_gapless_versions(fhir: httpx.AsyncClient) -> None:
    rid = "gapless"

    async def put(i: int) -> int:
        body = {"resourceType": "Patient", "id": rid, "name": [{"family": f"N{i}"}]}
        return (await fhir.put(f"/Patient/{rid}", json=body)).status_code

    statuses = await asyncio.gather(*(put(i) for i in range(10)))
    assert sorted(statuses) == [200] * 9 + [201]
    history = (await fhir.get(f"/Patient/{rid}/_history", params={"_count": "50"})).json()
    versions = sorted(int(e["resource"]["meta"]["versionId"]) for e in history["entry"])
    assert versions == list(range(1, 11))


async def test_concurrent_conditional_creates_create_once(fhir: httpx.AsyncClient) -> None:
    header = {"If-None-Exist": "identifier=urn:sys|ONCE"}
    body = {"resourceType": "Patient", "identifier": [{"system": "urn:sys", "value": "ONCE"}]}
    statuses = await asyncio.gather(
        *(fhir.post("/Patient", json=body, headers=header) for _ in range(6))
    )
    assert sorted(r.status_code for r in statuses) == [200] * 5 + [201]
    assert (await fhir.get("/Patient", params={"identifier": "urn:sys|ONCE"})).json()["total"] == 1
