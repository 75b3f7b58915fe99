"""Transaction and batch bundles (http.html §3.1.0.11)."""

from __future__ import annotations

import base64
from collections.abc import Mapping

import httpx
import orjson
import pytest

pytestmark = pytest.mark.integration

MRN = "http://hospital.example/mrn"


def tx(*entries: dict[str, object], kind: str = "transaction") -> dict[str, object]:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def post(
    resource: Mapping[str, object], full_url: str | None = None, **request: str
) -> dict[str, object]:
    entry: dict[str, object] = {
        "resource": resource,
        "request": {"method": "POST", "url": resource["resourceType"], **request},
    }
    if full_url:
        entry["fullUrl"] = full_url
    return entry


PATIENT = {
    "resourceType": "Patient",
    "identifier": [{"system": MRN, "value": "T1"}],
    "name": [{"family": "Tx"}],
}


def observation(subject: str) -> dict[str, object]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": subject},
        "valueQuantity": {
            "value": 72,
            "unit": "/min",
            "system": "http://unitsofmeasure.org",
            "code": "/min",
        },
    }


async def test_transaction_rewrites_urn_uuid_references(fhir: httpx.AsyncClient) -> None:
    pid = "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"
    response = await fhir.post("", json=tx(post(observation(pid)), post(PATIENT, pid)))
    assert response.status_code == 200, response.text
    bundle = response.json()
    assert bundle["type"] == "transaction-response"
    obs_resp, pat_resp = (e["response"] for e in bundle["entry"])
    assert obs_resp["status"].startswith("201") and pat_resp["status"].startswith("201")
    patient_ref = "/".join(pat_resp["location"].split("/")[:2])
    obs = await fhir.get("/" + "/".join(obs_resp["location"].split("/")[:2]))
    assert obs.json()["subject"]["reference"] == patient_ref
    assert (await fhir.get("/" + patient_ref)).status_code == 200


async def test_transaction_is_atomic(fhir: httpx.AsyncClient) -> None:
    bad = {"resourceType": "Patient", "gender": 42}
    response = await fhir.post("", json=tx(post(PATIENT), post(bad)))
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"
    search = await fhir.get("/Patient")
    assert search.json()["total"] == 0  # the valid entry was rolled back too


async def test_transaction_conditional_create_and_conditional_reference(
    fhir: httpx.AsyncClient,
) -> None:
    first = await fhir.post("/Patient", json=PATIENT)
    existing = first.json()["id"]
    bundle = tx(
        post(PATIENT, "urn:uuid:a", ifNoneExist=f"identifier={MRN}|T1"),
        post(observation("urn:uuid:a")),
        post(observation(f"Patient?identifier={MRN}|T1")),
    )
    response = await fhir.post("", json=bundle)
    assert response.status_code == 200, response.text
    statuses = [e["response"]["status"][:3] for e in response.json()["entry"]]
    assert statuses == ["200", "201", "201"]
    observations = await fhir.get("/Observation")
    refs = {e["resource"]["subject"]["reference"] for e in observations.json()["entry"]}
    assert refs == {f"Patient/{existing}"}


async def test_conditional_reference_without_match_fails_transaction(
    fhir: httpx.AsyncClient,
) -> None:
    response = await fhir.post("", json=tx(post(observation(f"Patient?identifier={MRN}|nobody"))))
    assert response.status_code == 412
    assert (await fhir.get("/Observation")).json()["total"] == 0


async def test_transaction_put_if_match_delete_and_get(fhir: httpx.AsyncClient) -> None:
    rid = (await fhir.post("/Patient", json=PATIENT)).json()["id"]
    gone = (await fhir.post("/Patient", json=PATIENT)).json()["id"]
    bundle = tx(
        {
            "resource": {**PATIENT, "id": rid, "gender": "female"},
            "request": {"method": "PUT", "url": f"Patient/{rid}", "ifMatch": 'W/"1"'},
        },
        {"request": {"method": "DELETE", "url": f"Patient/{gone}"}},
        {"request": {"method": "GET", "url": f"Patient/{rid}"}},
    )
    response = await fhir.post("", json=bundle)
    assert response.status_code == 200, response.text
    put, delete, get = response.json()["entry"]
    assert put["response"]["status"].startswith("200")
    assert put["response"]["etag"] == 'W/"2"'
    assert delete["response"]["status"].startswith("204")
    assert get["resource"]["gender"] == "female"  # GET runs after the writes
    assert (await fhir.get(f"/Patient/{gone}")).status_code == 410


async def test_transaction_if_match_conflict_rolls_back(fhir: httpx.AsyncClient) -> None:
    rid = (await fhir.post("/Patient", json=PATIENT)).json()["id"]
    bundle = tx(
        post({"resourceType": "Patient", "name": [{"family": "New"}]}),
        {
            "resource": {**PATIENT, "id": rid},
            "request": {"method": "PUT", "url": f"Patient/{rid}", "ifMatch": 'W/"9"'},
        },
    )
    assert (await fhir.post("", json=bundle)).status_code == 412
    assert (await fhir.get("/Patient")).json()["total"] == 1


async def test_transaction_patch_entry(fhir: httpx.AsyncClient) -> None:
    rid = (await fhir.post("/Patient", json=PATIENT)).json()["id"]
    ops = [{"op": "add", "path": "/gender", "value": "other"}]
    binary = {
        "resourceType": "Binary",
        "contentType": "application/json-patch+json",
        "data": base64.b64encode(orjson.dumps(ops)).decode(),
    }
    response = await fhir.post(
        "", json=tx({"resource": binary, "request": {"method": "PATCH", "url": f"Patient/{rid}"}})
    )
    assert response.status_code == 200, response.text
    assert (await fhir.get(f"/Patient/{rid}")).json()["gender"] == "other"


async def test_transaction_touching_a_resource_twice_is_400(fhir: httpx.AsyncClient) -> None:
    entry = {
        "resource": {**PATIENT, "id": "twice"},
        "request": {"method": "PUT", "url": "Patient/twice"},
    }
    assert (await fhir.post("", json=tx(entry, entry))).status_code == 400


async def test_unresolvable_urn_reference_is_400(fhir: httpx.AsyncClient) -> None:
    response = await fhir.post("", json=tx(post(observation("urn:uuid:not-in-bundle"))))
    assert response.status_code == 400


async def test_batch_entries_are_independent(fhir: httpx.AsyncClient) -> None:
    bundle = tx(
        post(PATIENT),
        post({"resourceType": "Patient", "gender": 42}),
        {"request": {"method": "GET", "url": "Patient/missing"}},
        kind="batch",
    )
    response = await fhir.post("", json=bundle)
    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "batch-response"
    statuses = [e["response"]["status"][:3] for e in body["entry"]]
    assert statuses == ["201", "400", "404"]
    assert body["entry"][1]["response"]["outcome"]["resourceType"] == "OperationOutcome"
    assert (await fhir.get("/Patient")).json()["total"] == 1


async def test_prefer_representation_in_transaction_response(fhir: httpx.AsyncClient) -> None:
    response = await fhir.post(
        "", json=tx(post(PATIENT)), headers={"Prefer": "return=representation"}
    )
    entry = response.json()["entry"][0]
    assert entry["resource"]["resourceType"] == "Patient"
    assert entry["fullUrl"].endswith(f"/Patient/{entry['resource']['id']}")
    minimal = await fhir.post("", json=tx(post(PATIENT)))
    assert "resource" not in minimal.json()["entry"][0]


@pytest.mark.parametrize(
    "body",
    [
        {"resourceType": "Patient"},
        {"resourceType": "Bundle", "type": "collection"},
        {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [{"resource": {"resourceType": "Patient"}}],
        },
        {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [{"request": {"method": "FETCH", "url": "Patient"}}],
        },
        {"resourceType": "Bundle", "type": "transaction", "entry": "nope"},
    ],
)
async def test_malformed_bundles_are_400(fhir: httpx.AsyncClient, body: dict[str, object]) -> None:
    response = await fhir.post("", json=body)
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


async def test_too_many_entries_is_413(fhir: httpx.AsyncClient) -> None:
    bundle = tx(*[post(PATIENT) for _ in range(201)], kind="batch")
    response = await fhir.post("", json=bundle)
    assert response.status_code == 413


async def test_transaction_searches_see_the_bundles_own_writes(fhir: httpx.AsyncClient) -> None:
    """The store defers index, full-text and version rows until a read needs them: a
    transaction's GET entries run after its writes and must find them."""
    rid = (await fhir.post("/Patient", json=PATIENT)).json()["id"]
    updated = {
        **PATIENT,
        "id": rid,
        "name": [{"family": "Renamed"}],
        "text": {"status": "generated", "div": "<div>quintessential visitor</div>"},
    }
    bundle = tx(
        post(observation(f"Patient/{rid}")),
        {"resource": updated, "request": {"method": "PUT", "url": f"Patient/{rid}"}},
        {"request": {"method": "GET", "url": "Observation?code=http://loinc.org|8867-4"}},
        {"request": {"method": "GET", "url": "Patient?family=Renamed"}},
        {"request": {"method": "GET", "url": "Patient?family=Tx"}},
        {"request": {"method": "GET", "url": "Patient?_text=quintessential"}},
        {"request": {"method": "GET", "url": f"Patient/{rid}/_history/2"}},
    )
    response = await fhir.post("", json=bundle)
    assert response.status_code == 200, response.text
    _, _, by_code, renamed, old_name, by_text, version = response.json()["entry"]
    assert by_code["resource"]["total"] == 1
    assert [e["resource"]["id"] for e in renamed["resource"]["entry"]] == [rid]
    assert old_name["resource"]["total"] == 0  # the first version's rows were replaced
    assert [e["resource"]["id"] for e in by_text["resource"]["entry"]] == [rid]
    assert version["resource"]["name"][0]["family"] == "Renamed"
