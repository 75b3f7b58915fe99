"""Create, read, vread, update (incl. update-as-create), patch, delete — http.html §3.1.0."""

from __future__ import annotations

import httpx
import orjson
import pytest

pytestmark = pytest.mark.integration

JSON_PATCH = {"content-type": "application/json-patch+json"}


def patient(family: str = "Chalmers", **extra: object) -> dict[str, object]:
    return {"resourceType": "Patient", "name": [{"family": family, "given": ["Peter"]}], **extra}


async def create(fhir: httpx.AsyncClient, resource: dict[str, object]) -> httpx.Response:
    response = await fhir.post(f"/{resource['resourceType']}", json=resource)
    assert response.status_code == 201, response.text
    return response


async def test_create_assigns_id_version_and_headers(fhir: httpx.AsyncClient) -> None:
    response = await create(fhir, patient(id="client-chosen"))
    body = response.json()
    assert body["id"] != "client-chosen"  # create ignores a client id
    assert body["meta"]["versionId"] == "1"
    assert body["meta"]["lastUpdated"].endswith("Z")
    assert response.headers["etag"] == 'W/"1"'
    assert response.headers["location"].endswith(f"/fhir/Patient/{body['id']}/_history/1")
    assert response.headers["content-type"].startswith("application/fhir+json")
    assert "last-modified" in response.headers


async def test_read_and_vread(fhir: httpx.AsyncClient) -> None:
    rid = (await create(fhir, patient())).json()["id"]
    updated = {**patient("Windsor"), "id": rid}
    assert (await fhir.put(f"/Patient/{rid}", json=updated)).status_code == 200
    current = await fhir.get(f"/Patient/{rid}")
    assert current.status_code == 200
    assert current.json()["name"][0]["family"] == "Windsor"
    assert current.headers["etag"] == 'W/"2"'
    first = await fhir.get(f"/Patient/{rid}/_history/1")
    assert first.json()["name"][0]["family"] == "Chalmers"
    assert first.json()["meta"]["versionId"] == "1"
    assert (await fhir.get(f"/Patient/{rid}/_history/3")).status_code == 404


async def test_read_unknown_is_404_with_outcome(fhir: httpx.AsyncClient) -> None:
    response = await fhir.get("/Patient/does-not-exist")
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"
    assert response.json()["issue"][0]["code"] == "not-found"


async def test_update_as_create_with_client_id(fhir: httpx.AsyncClient) -> None:
    response = await fhir.put("/Patient/mine-1", json={**patient(), "id": "mine-1"})
    assert response.status_code == 201
    assert response.json()["id"] == "mine-1"
    assert response.json()["meta"]["versionId"] == "1"
    again = await fhir.put("/Patient/mine-1", json={**patient("Other"), "id": "mine-1"})
    assert again.status_code == 200
    assert again.json()["meta"]["versionId"] == "2"


async def test_update_with_if_match(fhir: httpx.AsyncClient) -> None:
    rid = (await create(fhir, patient())).json()["id"]
    body = {**patient("New"), "id": rid}
    stale = await fhir.put(f"/Patient/{rid}", json=body, headers={"If-Match": 'W/"7"'})
    assert stale.status_code == 412
    ok = await fhir.put(f"/Patient/{rid}", json=body, headers={"If-Match": 'W/"1"'})
    assert ok.status_code == 200
    assert ok.headers["etag"] == 'W/"2"'


async def test_json_patch(fhir: httpx.AsyncClient) -> None:
    rid = (await create(fhir, patient())).json()["id"]
    ops = [
        {"op": "replace", "path": "/name/0/family", "value": "Patched"},
        {"op": "add", "path": "/gender", "value": "male"},
    ]
    response = await fhir.patch(f"/Patient/{rid}", content=orjson.dumps(ops), headers=JSON_PATCH)
    assert response.status_code == 200, response.text
    assert response.json()["name"][0]["family"] == "Patched"
    assert response.json()["gender"] == "male"
    assert response.json()["meta"]["versionId"] == "2"


async def test_json_patch_errors(fhir: httpx.AsyncClient) -> None:
    rid = (await create(fhir, patient())).json()["id"]
    bad_path = [{"op": "replace", "path": "/nope/0", "value": 1}]
    assert (
        await fhir.patch(f"/Patient/{rid}", content=orjson.dumps(bad_path), headers=JSON_PATCH)
    ).status_code == 422
    invalid = [{"op": "add", "path": "/gender", "value": 12}]
    assert (
        await fhir.patch(f"/Patient/{rid}", content=orjson.dumps(invalid), headers=JSON_PATCH)
    ).status_code == 400
    change_id = [{"op": "replace", "path": "/id", "value": "other"}]
    assert (
        await fhir.patch(f"/Patient/{rid}", content=orjson.dumps(change_id), headers=JSON_PATCH)
    ).status_code == 422
    json_patch_as_plain_json = await fhir.patch(f"/Patient/{rid}", json=bad_path)
    assert json_patch_as_plain_json.status_code == 400
    wrong_type = await fhir.patch(
        f"/Patient/{rid}", content=orjson.dumps(bad_path), headers={"content-type": "text/plain"}
    )
    assert wrong_type.status_code == 415
    missing = await fhir.patch(
        "/Patient/missing", content=orjson.dumps(bad_path), headers=JSON_PATCH
    )
    assert missing.status_code == 404
    assert (await fhir.get(f"/Patient/{rid}")).json()["meta"]["versionId"] == "1"


async def test_delete_then_gone_and_history_keeps_versions(fhir: httpx.AsyncClient) -> None:
    rid = (await create(fhir, patient())).json()["id"]
    deleted = await fhir.delete(f"/Patient/{rid}")
    assert deleted.status_code == 204
    gone = await fhir.get(f"/Patient/{rid}")
    assert gone.status_code == 410
    assert gone.json()["issue"][0]["code"] == "deleted"
    assert (await fhir.get(f"/Patient/{rid}/_history/1")).status_code == 200
    assert (await fhir.get(f"/Patient/{rid}/_history/2")).status_code == 410
    assert (await fhir.delete(f"/Patient/{rid}")).status_code == 204  # idempotent
    revived = await fhir.put(f"/Patient/{rid}", json={**patient(), "id": rid})
    assert revived.status_code == 201
    assert revived.json()["meta"]["versionId"] == "3"


@pytest.mark.parametrize(
    ("prefer", "expect_body"),
    [
        ("return=minimal", None),
        ("return=representation", "Patient"),
        ("return=OperationOutcome", "OperationOutcome"),
    ],
)
async def test_prefer_return(fhir: httpx.AsyncClient, prefer: str, expect_body: str | None) -> None:
    response = await fhir.post("/Patient", json=patient(), headers={"Prefer": prefer})
    assert response.status_code == 201
    assert "location" in response.headers
    if expect_body is None:
        assert response.content == b""
    else:
        assert response.json()["resourceType"] == expect_body


async def test_if_none_match_on_read_gives_304(fhir: httpx.AsyncClient) -> None:
    rid = (await create(fhir, patient())).json()["id"]
    response = await fhir.get(f"/Patient/{rid}", headers={"If-None-Match": 'W/"1"'})
    assert response.status_code == 304


async def test_if_modified_since_on_read_gives_304_when_unchanged(fhir: httpx.AsyncClient) -> None:
    created = await create(fhir, patient())
    rid, last_modified = created.json()["id"], created.headers["last-modified"]
    unchanged = await fhir.get(f"/Patient/{rid}", headers={"If-Modified-Since": last_modified})
    assert unchanged.status_code == 304
    assert unchanged.headers["etag"] == 'W/"1"'
    assert unchanged.headers["last-modified"] == last_modified
    older = "Mon, 01 Jan 2001 00:00:00 GMT"
    changed = await fhir.get(f"/Patient/{rid}", headers={"If-Modified-Since": older})
    assert changed.status_code == 200
    assert changed.json()["id"] == rid


@pytest.mark.parametrize(
    ("accept", "status"),
    [
        ("application/fhir+json; fhirVersion=4.0", 200),
        ("application/fhir+json; fhirVersion=3.0", 406),
    ],
)
async def test_accept_with_fhir_version(fhir: httpx.AsyncClient, accept: str, status: int) -> None:
    response = await fhir.get("/metadata", headers={"Accept": accept})
    assert response.status_code == status
    if status == 406:
        assert response.json()["resourceType"] == "OperationOutcome"
