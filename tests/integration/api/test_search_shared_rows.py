"""Parameters whose rows are other parameters' rows (``polyfhir_core.registry.Storage``).

``patient`` of Observation is ``subject.where(resolve() is Patient)`` and
``combo-code`` is ``code | component.code``: the store writes no rows for them and
reads ``subject``'s rows that reference a Patient, or the rows of ``code`` and
``component-code``. Every way of using such a parameter must answer as if it had
rows of its own.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration

LOINC = "http://loinc.org"


def _coded(code: str) -> dict[str, Any]:
    return {"coding": [{"system": LOINC, "code": code}]}


def _obs(oid: str, code: str, subject: dict[str, Any] | None, **more: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": _coded(code),
        **more,
    }
    if subject is not None:
        body["subject"] = subject
    return body


RESOURCES: list[dict[str, Any]] = [
    {"resourceType": "Patient", "id": "ann", "name": [{"family": "Smith"}]},
    {"resourceType": "Group", "id": "g1", "type": "person", "actual": True},
    _obs(
        "o1",
        "1111-1",
        {"reference": "Patient/ann"},
        component=[{"code": _coded("2222-2"), "valueQuantity": {"value": 120}}],
    ),
    _obs("o2", "2222-2", {"reference": "Group/g1"}, valueQuantity={"value": 5}),
    _obs("o3", "3333-3", {"type": "Patient", "identifier": {"system": "urn:s", "value": "42"}}),
    _obs("o4", "4444-4", None),
    {
        "resourceType": "Condition",
        "id": "c1",
        "subject": {"reference": "Patient/ann"},
        "code": {"text": "x"},
    },
]


async def _seed(fhir: httpx.AsyncClient) -> None:
    entries = [
        {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
        for r in RESOURCES
    ]
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    response = await fhir.post("", json=bundle)
    assert response.status_code == 200, response.text


async def _search(fhir: httpx.AsyncClient, path: str, **params: str) -> dict[str, list[str]]:
    response = await fhir.get(path, params=params)
    assert response.status_code == 200, response.text
    found: dict[str, list[str]] = {"match": [], "include": []}
    for entry in response.json().get("entry", []):
        found[entry["search"]["mode"]].append(entry["resource"]["id"])
    return found


async def _matches(fhir: httpx.AsyncClient, path: str, **params: str) -> list[str]:
    return sorted((await _search(fhir, path, **params))["match"])


async def test_a_parameter_restricted_to_a_target_type(fhir: httpx.AsyncClient) -> None:
    await _seed(fhir)
    assert await _matches(fhir, "/Observation", patient="Patient/ann") == ["o1"]
    assert await _matches(fhir, "/Observation", patient="ann") == ["o1"]
    assert await _matches(fhir, "/Observation", subject="g1") == ["o2"]
    assert await _matches(fhir, "/Observation", patient="g1") == []  # a Group, not a Patient
    assert await _matches(fhir, "/Observation", **{"patient:missing": "true"}) == ["o2", "o4"]
    assert await _matches(fhir, "/Observation", **{"patient:missing": "false"}) == ["o1", "o3"]
    assert await _matches(fhir, "/Observation", **{"patient:identifier": "urn:s|42"}) == ["o3"]
    assert await _matches(fhir, "/Observation", **{"patient.name": "smith"}) == ["o1"]
    assert await _matches(fhir, "/Patient", **{"_has:Observation:patient:code": "1111-1"}) == [
        "ann"
    ]
    assert await _matches(fhir, "/Group", **{"_has:Observation:patient:code": "2222-2"}) == []
    assert await _matches(fhir, "/Group", **{"_has:Observation:subject:code": "2222-2"}) == ["g1"]
    assert await _matches(fhir, "/Patient/ann/Observation") == ["o1"]
    assert await _matches(fhir, "/Patient/ann/Condition") == ["c1"]
    wrong_type = await fhir.get("/Observation", params={"patient:Group": "g1"})
    assert wrong_type.status_code == 400
    assert wrong_type.json()["resourceType"] == "OperationOutcome"


async def test_sorting_by_a_restricted_parameter(fhir: httpx.AsyncClient) -> None:
    """``_sort=patient`` orders by the Patient ids in ``subject``'s rows; in id order
    (no rows to sort by) ``o0`` would come first."""
    await _seed(fhir)
    zed = {"resourceType": "Patient", "id": "zed"}
    o0 = _obs("o0", "1111-1", {"reference": "Patient/zed"})
    for r in (zed, o0):
        assert (await fhir.put(f"/{r['resourceType']}/{r['id']}", json=r)).status_code in (200, 201)
    ascending = (await _search(fhir, "/Observation", _sort="patient"))["match"]
    assert ascending[:2] == ["o1", "o0"]  # ann, zed; the rest have no Patient
    descending = (await _search(fhir, "/Observation", _sort="-patient"))["match"]
    assert descending[:2] == ["o0", "o1"]


async def test_includes_follow_the_restricted_rows(fhir: httpx.AsyncClient) -> None:
    await _seed(fhir)
    forward = await _search(fhir, "/Observation", _id="o1,o2", _include="Observation:patient")
    assert sorted(forward["include"]) == ["ann"]
    every = await _search(fhir, "/Observation", _id="o1,o2", _include="Observation:subject")
    assert sorted(every["include"]) == ["ann", "g1"]
    reverse = await _search(fhir, "/Patient", _id="ann", _revinclude="Observation:patient")
    assert reverse["include"] == ["o1"]
    none = await _search(fhir, "/Group", _id="g1", _revinclude="Observation:patient")
    assert none["include"] == []


async def test_a_parameter_that_is_the_union_of_others(fhir: httpx.AsyncClient) -> None:
    await _seed(fhir)
    assert await _matches(fhir, "/Observation", **{"combo-code": "2222-2"}) == ["o1", "o2"]
    assert await _matches(fhir, "/Observation", **{"combo-code": f"{LOINC}|1111-1"}) == ["o1"]
    assert await _matches(fhir, "/Observation", **{"combo-code:not": "2222-2"}) == ["o3", "o4"]
    assert await _matches(fhir, "/Observation", **{"combo-value-quantity": "120"}) == ["o1"]
    assert await _matches(fhir, "/Observation", **{"combo-value-quantity": "5"}) == ["o2"]
    assert await _matches(fhir, "/Observation", **{"combo-value-quantity:missing": "true"}) == [
        "o3",
        "o4",
    ]
