"""PATCH beside JSON Patch: JSON Merge Patch and FHIRPath Patch (http.html#patch, fhirpatch.html)."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import orjson
import pytest

pytestmark = pytest.mark.integration

MERGE_PATCH = {"content-type": "application/merge-patch+json"}
FHIR_JSON = {"content-type": "application/fhir+json"}


async def create_patient(fhir: httpx.AsyncClient) -> str:
    body = {
        "resourceType": "Patient",
        "active": True,
        "name": [{"family": "Chalmers", "given": ["Peter"]}],
        "identifier": [{"system": "urn:a", "value": "1"}, {"system": "urn:b", "value": "2"}],
    }
    response = await fhir.post("/Patient", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def operation(kind: str, path: str, *extra: dict[str, Any]) -> dict[str, Any]:
    parts = [{"name": "type", "valueCode": kind}, {"name": "path", "valueString": path}]
    return {"name": "operation", "part": [*parts, *extra]}


def parameters(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": list(operations)}


async def test_merge_patch(fhir: httpx.AsyncClient) -> None:
    rid = await create_patient(fhir)
    body = orjson.dumps({"active": None, "gender": "female"})
    response = await fhir.patch(f"/Patient/{rid}", content=body, headers=MERGE_PATCH)
    assert response.status_code == 200, response.text
    patched = response.json()
    assert patched["gender"] == "female"
    assert "active" not in patched
    assert patched["meta"]["versionId"] == "2"
    # fhirpy's patch() sends the same object as plain application/json
    plain = await fhir.patch(f"/Patient/{rid}", json={"gender": "male"})
    assert plain.status_code == 200, plain.text
    assert (await fhir.get(f"/Patient/{rid}")).json()["gender"] == "male"


async def test_merge_patch_result_is_validated(fhir: httpx.AsyncClient) -> None:
    rid = await create_patient(fhir)
    body = orjson.dumps({"gender": 12})
    response = await fhir.patch(f"/Patient/{rid}", content=body, headers=MERGE_PATCH)
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"
    assert (await fhir.get(f"/Patient/{rid}")).json()["meta"]["versionId"] == "1"


async def test_fhirpath_patch(fhir: httpx.AsyncClient) -> None:
    rid = await create_patient(fhir)
    patch = parameters(
        operation("replace", "Patient.name[0].family", {"name": "value", "valueString": "Smith"}),
        operation("add", "Patient", {"name": "name", "valueString": "gender"}),
        operation("delete", "Patient.identifier.where(system='urn:a')"),
        operation(
            "insert",
            "Patient.identifier",
            {"name": "index", "valueInteger": 0},
            {"name": "value", "valueIdentifier": {"system": "urn:c", "value": "3"}},
        ),
        operation(
            "move",
            "Patient.identifier",
            {"name": "source", "valueInteger": 0},
            {"name": "destination", "valueInteger": 1},
        ),
    )
    patch["parameter"][1]["part"].append({"name": "value", "valueCode": "other"})
    response = await fhir.patch(f"/Patient/{rid}", content=orjson.dumps(patch), headers=FHIR_JSON)
    assert response.status_code == 200, response.text
    patched = response.json()
    assert patched["name"][0]["family"] == "Smith"
    assert patched["gender"] == "other"
    assert [i["system"] for i in patched["identifier"]] == ["urn:b", "urn:c"]
    assert (await fhir.get(f"/Patient/{rid}")).json() == patched


@pytest.mark.parametrize(
    ("patch", "status"),
    [
        (
            parameters(
                operation("replace", "Patient.gender", {"name": "value", "valueCode": "male"})
            ),
            422,
        ),
        (parameters(operation("delete", "Patient.identifier")), 422),
        (
            parameters(
                operation("replace", "Patient.active", {"name": "value", "valueString": "x"})
            ),
            400,
        ),
        (parameters(operation("replace", "Patient.name.exists()")), 400),
        ({"resourceType": "Parameters", "parameter": [{"name": "oops"}]}, 400),
        ({"resourceType": "Patient"}, 400),
    ],
)
async def test_fhirpath_patch_failures_are_outcomes(
    fhir: httpx.AsyncClient, patch: dict[str, Any], status: int
) -> None:
    rid = await create_patient(fhir)
    response = await fhir.patch(f"/Patient/{rid}", content=orjson.dumps(patch), headers=FHIR_JSON)
    assert response.status_code == status, response.text
    assert response.json()["resourceType"] == "OperationOutcome"
    assert (await fhir.get(f"/Patient/{rid}")).json()["meta"]["versionId"] == "1"


async def test_transaction_patch_entries_take_every_format(fhir: httpx.AsyncClient) -> None:
    rid = await create_patient(fhir)
    merge = base64.b64encode(orjson.dumps({"gender": "female"})).decode()
    fhirpath = parameters(
        operation("replace", "Patient.name[0].family", {"name": "value", "valueString": "Jones"})
    )
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": {
                    "resourceType": "Binary",
                    "contentType": "application/merge-patch+json",
                    "data": merge,
                },
                "request": {"method": "PATCH", "url": f"Patient/{rid}"},
            },
        ],
    }
    response = await fhir.post("", json=bundle)
    assert response.status_code == 200, response.text
    bundle["entry"] = [
        {"resource": fhirpath, "request": {"method": "PATCH", "url": f"Patient/{rid}"}}
    ]
    response = await fhir.post("", json=bundle)
    assert response.status_code == 200, response.text
    patched = (await fhir.get(f"/Patient/{rid}")).json()
    assert patched["gender"] == "female"
    assert patched["name"][0]["family"] == "Jones"
    assert patched["meta"]["versionId"] == "3"
