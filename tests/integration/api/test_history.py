"""History: instance, type and system level with _since, _count and paging links."""

from __future__ import annotations

import asyncio

import httpx
import pytest

pytestmark = pytest.mark.integration


async def _versions(fhir: httpx.AsyncClient, rid: str, n: int) -> None:
    for i in range(n):
        body = {"resourceType": "Patient", "id": rid, "name": [{"family": f"V{i + 1}"}]}
        assert (await fhir.put(f"/Patient/{rid}", json=body)).status_code in (200, 201)


async def test_instance_history_newest_first_with_delete(fhir: httpx.AsyncClient) -> None:
    await _versions(fhir, "h1", 3)
    await fhir.delete("/Patient/h1")
    bundle = (await fhir.get("/Patient/h1/_history")).json()
    assert bundle["type"] == "history"
    versions = [e["response"]["etag"] for e in bundle["entry"]]
    assert versions == ['W/"4"', 'W/"3"', 'W/"2"', 'W/"1"']
    deleted, *rest = bundle["entry"]
    assert deleted["request"]["method"] == "DELETE"
    assert "resource" not in deleted
    assert [e["resource"]["name"][0]["family"] for e in rest] == ["V3", "V2", "V1"]
    assert rest[-1]["response"]["status"].startswith("201")


async def test_history_paging_follows_next_links(fhir: httpx.AsyncClient) -> None:
    await _versions(fhir, "h2", 5)
    seen: list[str] = []
    url: str | None = "/Patient/h2/_history?_count=2"
    pages = 0
    while url is not None and pages < 10:
        bundle = (await fhir.get(url)).json()
        seen += [e["response"]["etag"] for e in bundle["entry"]]
        nxt = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
        url = nxt[0] if nxt else None
        pages += 1
    assert pages == 3
    assert seen == [f'W/"{v}"' for v in (5, 4, 3, 2, 1)]


async def test_type_and_system_history_with_since(fhir: httpx.AsyncClient) -> None:
    await _versions(fhir, "h3", 2)
    marker = (await fhir.get("/Patient/h3")).json()["meta"]["lastUpdated"]
    await asyncio.sleep(0.005)  # lastUpdated has millisecond precision: step past the marker
    obs = {"resourceType": "Observation", "status": "final", "code": {"text": "x"}}
    await fhir.post("/Observation", json=obs)
    type_history = (await fhir.get("/Patient/_history")).json()
    assert {e["resource"]["resourceType"] for e in type_history["entry"]} == {"Patient"}
    assert len(type_history["entry"]) == 2
    system = (await fhir.get("/_history")).json()
    assert len(system["entry"]) == 3
    since = (await fhir.get("/_history", params={"_since": marker})).json()
    types = [e["resource"]["resourceType"] for e in since["entry"]]
    assert "Observation" in types


@pytest.mark.parametrize(
    "params", [{"_since": "yesterday"}, {"_count": "-1"}, {"_page": "abc"}, {"bogus": "1"}]
)
async def test_bad_history_parameters_are_400(
    fhir: httpx.AsyncClient, params: dict[str, str]
) -> None:
    response = await fhir.get("/_history", params=params)
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"
