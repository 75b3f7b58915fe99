"""Bulk Data ``$export`` (system, Patient, Group) over every server of the API matrix."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from bulk_client import ASYNC, export, exported, kick_off, manifest

pytestmark = pytest.mark.integration


async def put(fhir: httpx.AsyncClient, resource: dict[str, Any]) -> dict[str, Any]:
    url = f"/{resource['resourceType']}/{resource['id']}"
    response = await fhir.put(url, json=resource)
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


def observation(oid: str, patient: str | None, code: str = "1234-5") -> dict[str, Any]:
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
    }
    if patient is not None:
        obs["subject"] = {"reference": f"Patient/{patient}"}
    return obs


def ids(resources: list[dict[str, Any]]) -> set[str]:
    return {r["id"] for r in resources}


async def test_kick_off_needs_respond_async(fhir: httpx.AsyncClient) -> None:
    response = await fhir.get("/$export")
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"
    assert "respond-async" in response.text


@pytest.mark.parametrize(
    "params",
    [
        {"_outputFormat": "text/csv"},
        {"_since": "yesterday"},
        {"_typeFilter": "Observation"},
        {"_typeFilter": "Observation?no-such-parameter=1"},
        {"organizeOutputBy": "Patient"},
        {"patient": "Patient/x"},  # system level takes no patient
    ],
)
async def test_unsupported_kick_off_parameters_are_400(
    fhir: httpx.AsyncClient, params: dict[str, str]
) -> None:
    response = await fhir.get("/$export", params=params, headers=ASYNC)
    assert response.status_code == 400, response.text
    assert response.json()["resourceType"] == "OperationOutcome"


async def test_unknown_type_is_400_when_strict_and_left_out_when_lenient(
    fhir: httpx.AsyncClient,
) -> None:
    strict = {"prefer": "respond-async, handling=strict"}
    response = await fhir.get("/$export", params={"_type": "Patient,Nonsense"}, headers=strict)
    assert response.status_code == 400
    await put(fhir, {"resourceType": "Patient", "id": "p1"})
    body = await export(fhir, _type="Patient,Nonsense")
    assert [o["type"] for o in body["output"]] == ["Patient"]
    errors = await exported(fhir, body, "error")
    assert "Nonsense" in str(errors["OperationOutcome"])


async def test_unacceptable_accept_is_406(fhir: httpx.AsyncClient) -> None:
    response = await fhir.get("/$export", headers={**ASYNC, "accept": "text/html"})
    assert response.status_code == 406


async def test_system_export_round_trip(fhir: httpx.AsyncClient) -> None:
    for pid in ("a", "b", "c"):
        await put(fhir, {"resourceType": "Patient", "id": pid, "gender": "female"})
    await put(fhir, observation("o1", "a"))
    await put(fhir, observation("o2", "b"))
    body = await export(fhir)
    assert body["transactionTime"] and body["request"].endswith("/$export")
    assert body["requiresAccessToken"] is True
    assert body["error"] == [] and body["deleted"] == []
    by_type = await exported(fhir, body)
    assert {t: len(rs) for t, rs in by_type.items()} == {"Observation": 2, "Patient": 3}
    for resource in by_type["Patient"] + by_type["Observation"]:
        read = await fhir.get(f"/{resource['resourceType']}/{resource['id']}")
        assert read.json() == resource


async def test_post_kick_off_with_parameters(fhir: httpx.AsyncClient) -> None:
    await put(fhir, {"resourceType": "Patient", "id": "a"})
    await put(fhir, observation("o1", "a"))
    parameters = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "_outputFormat", "valueString": "application/fhir+ndjson"},
            {"name": "_type", "valueString": "Observation"},
        ],
    }
    response = await fhir.post("/$export", json=parameters, headers=ASYNC)
    assert response.status_code == 202, response.text
    body = await manifest(fhir, response.headers["content-location"])
    assert [(o["type"], o["count"]) for o in body["output"]] == [("Observation", 1)]


async def test_type_type_filter_and_elements(fhir: httpx.AsyncClient) -> None:
    await put(fhir, {"resourceType": "Patient", "id": "a"})
    await put(fhir, observation("o1", "a", code="1111-1"))
    await put(fhir, observation("o2", "a", code="2222-2"))
    await put(fhir, observation("o3", "a", code="3333-3"))
    body = await export(
        fhir,
        _type="Observation",
        _typeFilter="Observation?code=1111-1,3333-3",
        _elements="status",
    )
    by_type = await exported(fhir, body)
    assert list(by_type) == ["Observation"]
    assert ids(by_type["Observation"]) == {"o1", "o3"}
    first = by_type["Observation"][0]
    assert "subject" not in first and first["status"] == "final"
    assert "SUBSETTED" in str(first["meta"]["tag"])


async def test_since_exports_changes_and_lists_deletions(fhir: httpx.AsyncClient) -> None:
    await put(fhir, {"resourceType": "Patient", "id": "kept"})
    await put(fhir, {"resourceType": "Patient", "id": "changed"})
    old = await put(fhir, {"resourceType": "Patient", "id": "gone"})
    since = old["meta"]["lastUpdated"]
    await put(fhir, {"resourceType": "Patient", "id": "changed", "active": True})
    assert (await fhir.delete("/Patient/gone")).status_code in (200, 204)
    await put(fhir, {"resourceType": "Patient", "id": "new"})
    body = await export(fhir, _type="Patient", _since=since)
    by_type = await exported(fhir, body)
    assert ids(by_type["Patient"]) == {"changed", "new"}
    deleted = await exported(fhir, body, "deleted")
    urls = [e["request"]["url"] for b in deleted["Bundle"] for e in b["entry"]]
    assert urls == ["Patient/gone"]


async def test_until_bounds_the_snapshot(fhir: httpx.AsyncClient) -> None:
    first = await put(fhir, {"resourceType": "Patient", "id": "p", "gender": "male"})
    until = first["meta"]["lastUpdated"]
    await put(fhir, {"resourceType": "Patient", "id": "p", "gender": "female"})
    await put(fhir, {"resourceType": "Patient", "id": "later"})
    body = await export(fhir, _type="Patient", _until=until)
    patients = (await exported(fhir, body))["Patient"]
    assert [(p["id"], p["gender"], p["meta"]["versionId"]) for p in patients] == [
        ("p", "male", "1")
    ]


async def test_patient_export_is_the_patient_compartment(fhir: httpx.AsyncClient) -> None:
    await put(fhir, {"resourceType": "Patient", "id": "a"})
    await put(fhir, {"resourceType": "Patient", "id": "b"})
    await put(fhir, observation("oa", "a"))
    await put(fhir, observation("ob", "b"))
    await put(fhir, observation("nobody", None))
    await put(fhir, {"resourceType": "Organization", "id": "org"})
    every = await exported(fhir, await export(fhir, "/Patient/$export"))
    assert set(every) == {"Patient", "Observation"}
    assert ids(every["Observation"]) == {"oa", "ob"}
    parameters = {
        "resourceType": "Parameters",
        "parameter": [{"name": "patient", "valueReference": {"reference": "Patient/a"}}],
    }
    response = await fhir.post("/Patient/$export", json=parameters, headers=ASYNC)
    assert response.status_code == 202, response.text
    one = await exported(fhir, await manifest(fhir, response.headers["content-location"]))
    assert ids(one["Patient"]) == {"a"} and ids(one["Observation"]) == {"oa"}


async def test_group_export_follows_active_members(server: Any, fhir: httpx.AsyncClient) -> None:
    other_tenant = f"t{uuid.uuid4().hex[:12]}"
    async with server.client(other_tenant) as other:
        await put(other, {"resourceType": "Patient", "id": "theirs"})
        await put(other, observation("their-obs", "theirs"))
    for pid in ("in", "inactive", "ended"):
        await put(fhir, {"resourceType": "Patient", "id": pid})
        await put(fhir, observation(f"o-{pid}", pid))
    member = [
        {"entity": {"reference": "Patient/in"}, "period": {"start": "2020-01-01"}},
        {"entity": {"reference": "Patient/inactive"}, "inactive": True},
        {"entity": {"reference": "Patient/ended"}, "period": {"end": "2021-01-01"}},
        {"entity": {"reference": "Patient/theirs"}},
    ]
    group = {"resourceType": "Group", "id": "g", "type": "person", "actual": True}
    await put(fhir, {**group, "member": member})
    body = await export(fhir, "/Group/g/$export")
    by_type = await exported(fhir, body)
    assert ids(by_type["Patient"]) == {"in"}
    assert ids(by_type["Observation"]) == {"o-in"}
    assert "their-obs" not in str(by_type)
    errors = await exported(fhir, body, "error")
    assert "Patient/theirs" in str(errors)  # a member this tenant does not have
    missing = await fhir.get("/Group/nope/$export", headers=ASYNC)
    assert missing.status_code == 404


async def test_tenants_see_neither_each_others_jobs_nor_files(
    server: Any, fhir: httpx.AsyncClient
) -> None:
    await put(fhir, {"resourceType": "Patient", "id": "mine"})
    status_url = await kick_off(fhir, "/$export")
    body = await manifest(fhir, status_url)
    async with server.client(f"t{uuid.uuid4().hex[:12]}") as other:
        assert (await other.get(status_url)).status_code == 404
        assert (await other.get(body["output"][0]["url"])).status_code == 404
        theirs = await export(other)
        assert theirs["output"] == []


async def test_cancel_removes_the_job_and_its_files(fhir: httpx.AsyncClient) -> None:
    await put(fhir, {"resourceType": "Patient", "id": "p"})
    status_url = await kick_off(fhir, "/$export")
    body = await manifest(fhir, status_url)
    assert (await fhir.delete(status_url)).status_code == 202
    assert (await fhir.get(status_url)).status_code == 404
    assert (await fhir.get(body["output"][0]["url"])).status_code == 404


async def test_capability_statement_declares_bulk_data(fhir: httpx.AsyncClient) -> None:
    cs = (await fhir.get("/metadata")).json()
    assert "http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data" in cs["instantiates"]
    rest = cs["rest"][0]
    system = {o["definition"] for o in rest["operation"]}
    assert "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export" in system
    by_type = {r["type"]: r for r in rest["resource"]}
    for rtype, name in (("Patient", "patient-export"), ("Group", "group-export")):
        definitions = {o["definition"] for o in by_type[rtype]["operation"]}
        assert f"http://hl7.org/fhir/uv/bulkdata/OperationDefinition/{name}" in definitions


async def test_patient_export_since_lists_only_the_patients_deletions(
    fhir: httpx.AsyncClient,
) -> None:
    await put(fhir, {"resourceType": "Patient", "id": "a"})
    await put(fhir, {"resourceType": "Patient", "id": "b"})
    first = await put(fhir, observation("oa", "a"))
    await put(fhir, observation("ob", "b"))
    for oid in ("oa", "ob"):
        assert (await fhir.delete(f"/Observation/{oid}")).status_code in (200, 204)
    parameters = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "patient", "valueReference": {"reference": "Patient/a"}},
            {"name": "_since", "valueInstant": first["meta"]["lastUpdated"]},
        ],
    }
    response = await fhir.post("/Patient/$export", json=parameters, headers=ASYNC)
    assert response.status_code == 202, response.text
    body = await manifest(fhir, response.headers["content-location"])
    deleted = await exported(fhir, body, "deleted")
    urls = [e["request"]["url"] for b in deleted.get("Bundle", []) for e in b["entry"]]
    assert urls == ["Observation/oa"]
