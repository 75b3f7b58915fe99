"""SMART scopes over the API: types, interactions, the patient compartment,
includes, chains, ``_has`` and every entry of a bundle."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from integration.security.conftest import SecureServer

pytestmark = pytest.mark.integration


@dataclass
class World:
    """Two patients, an Observation of each, an Organization, in one tenant."""

    tenant: str
    p1: str
    p2: str
    obs1: str
    obs2: str
    org: str


def _observation(patient: str, code: str = "8867-4") -> dict[str, object]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"reference": f"Patient/{patient}"},
    }


@pytest.fixture
async def world(server: SecureServer) -> AsyncIterator[World]:
    tenant = f"sc{uuid.uuid4().hex[:10]}"
    async with server.client(tenant) as admin:

        async def make(body: dict[str, object]) -> str:
            response = await admin.post(f"/{body['resourceType']}", json=body)
            assert response.status_code == 201, response.text
            return str(response.json()["id"])

        org = await make({"resourceType": "Organization", "name": "Clinic"})
        p1 = await make(
            {
                "resourceType": "Patient",
                "name": [{"family": "Alpha"}],
                "managingOrganization": {"reference": f"Organization/{org}"},
            }
        )
        p2 = await make({"resourceType": "Patient", "name": [{"family": "Beta"}]})
        obs1, obs2 = await make(_observation(p1)), await make(_observation(p2))
        yield World(tenant, p1, p2, obs1, obs2, org)


def _client(
    server: SecureServer, world: World, scope: str, patient: str | None = None
) -> httpx.AsyncClient:
    client: httpx.AsyncClient = server.client(
        token=server.issuer.token(world.tenant, scope, patient=patient)
    )
    return client


def _ids(bundle: httpx.Response) -> set[str]:
    assert bundle.status_code == 200, bundle.text
    return {e["resource"]["id"] for e in bundle.json().get("entry", [])}


async def test_type_and_letter_scopes(server: SecureServer, world: World) -> None:
    async with _client(server, world, "user/Observation.rs") as reader:
        assert (await reader.get(f"/Observation/{world.obs1}")).status_code == 200
        assert _ids(await reader.get("/Observation")) == {world.obs1, world.obs2}
        assert (await reader.get(f"/Patient/{world.p1}")).status_code == 403
        assert (await reader.post("/Observation", json=_observation(world.p1))).status_code == 403
        assert (await reader.delete(f"/Observation/{world.obs1}")).status_code == 403
    async with _client(server, world, "user/Observation.r") as read_only:
        assert (await read_only.get(f"/Observation/{world.obs1}")).status_code == 200
        assert (await read_only.get(f"/Observation/{world.obs1}/_history")).status_code == 200
        assert (await read_only.get("/Observation")).status_code == 403
        assert (await read_only.get("/Observation/_history")).status_code == 403
    async with _client(server, world, "system/*.read") as v1:  # SMART v1: read = rs
        assert (await v1.get(f"/Patient/{world.p2}")).status_code == 200
        assert (await v1.post("/Patient", json={"resourceType": "Patient"})).status_code == 403


async def test_patient_scope_confines_reads_to_the_compartment(
    server: SecureServer, world: World
) -> None:
    async with _client(server, world, "patient/*.rs", patient=world.p1) as app:
        assert _ids(await app.get("/Observation")) == {world.obs1}
        assert (await app.get(f"/Observation/{world.obs1}")).status_code == 200
        assert (await app.get(f"/Observation/{world.obs2}")).status_code == 404
        assert (await app.get(f"/Observation/{world.obs2}/_history/1")).status_code == 404
        assert (await app.get(f"/Patient/{world.p2}")).status_code == 404
        assert _ids(await app.get("/Patient")) == {world.p1}
        assert (await app.get(f"/Patient/{world.p2}/Observation")).status_code == 403
        assert _ids(await app.get(f"/Patient/{world.p1}/Observation")) == {world.obs1}
        # Organization is not in the Patient compartment: shared, not confined
        assert (await app.get(f"/Organization/{world.org}")).status_code == 200
        # no patient claim: patient/ scopes grant nothing
    async with _client(server, world, "patient/*.rs") as no_context:
        assert (await no_context.get(f"/Observation/{world.obs1}")).status_code == 403


async def test_patient_scope_confines_writes(server: SecureServer, world: World) -> None:
    async with _client(server, world, "patient/Observation.cruds", patient=world.p1) as app:
        assert (await app.post("/Observation", json=_observation(world.p1))).status_code == 201
        refused = await app.post("/Observation", json=_observation(world.p2))
        assert refused.status_code == 403
        assert refused.json()["resourceType"] == "OperationOutcome"
        moved = {**_observation(world.p2), "id": world.obs1}  # move mine to p2
        assert (await app.put(f"/Observation/{world.obs1}", json=moved)).status_code == 403
        theirs = {**_observation(world.p1), "id": world.obs2}  # take p2's
        assert (await app.put(f"/Observation/{world.obs2}", json=theirs)).status_code == 403
        # p2's Observation is not there for this app: deleted as a missing one (204), not
        # refused (a 403 would tell the app the id exists); it is still there below
        assert (await app.delete(f"/Observation/{world.obs2}")).status_code == 204
    async with server.client(world.tenant) as admin:
        after = (await admin.get(f"/Observation/{world.obs2}")).json()
        assert after["meta"]["versionId"] == "1"  # nothing changed
        assert _ids(await admin.get("/Observation", params={"subject": f"Patient/{world.p2}"})) == {
            world.obs2
        }


async def test_includes_are_filtered_and_chains_refused(server: SecureServer, world: World) -> None:
    async with _client(server, world, "user/Observation.rs") as no_patients:
        page = await no_patients.get("/Observation", params={"_include": "Observation:subject"})
        assert _ids(page) == {world.obs1, world.obs2}  # the patients are left out
        chain = await no_patients.get("/Observation", params={"subject:Patient.family": "Alpha"})
        assert chain.status_code == 403
    async with _client(server, world, "user/Observation.rs user/Patient.rs") as both:
        page = await both.get("/Observation", params={"_include": "Observation:subject"})
        assert _ids(page) == {world.obs1, world.obs2, world.p1, world.p2}
        chain = await both.get("/Observation", params={"subject:Patient.family": "Alpha"})
        assert _ids(chain) == {world.obs1}
        has = await both.get("/Patient", params={"_has:Observation:subject:code": "8867-4"})
        assert _ids(has) == {world.p1, world.p2}
        # into Organization (not in scope)
        deep = await both.get("/Patient", params={"organization.name": "Clinic"})
        assert deep.status_code == 403
    async with _client(server, world, "user/Patient.rs") as patients_only:
        has = await patients_only.get(
            "/Patient", params={"_has:Observation:subject:code": "8867-4"}
        )
        assert has.status_code == 403
    async with _client(server, world, "patient/*.rs", patient=world.p1) as app:
        rev = await app.get(
            "/Patient",
            params={"_revinclude": "Observation:subject", "_id": f"{world.p1},{world.p2}"},
        )
        assert _ids(rev) == {world.p1, world.obs1}


async def test_bundles_check_every_entry(server: SecureServer, world: World) -> None:
    def bundle(kind: str) -> dict[str, object]:
        return {
            "resourceType": "Bundle",
            "type": kind,
            "entry": [
                {
                    "resource": _observation(world.p1, "1111-1"),
                    "request": {"method": "POST", "url": "Observation"},
                },
                {
                    "resource": {"resourceType": "Patient"},
                    "request": {"method": "POST", "url": "Patient"},
                },
                {"request": {"method": "GET", "url": f"Observation/{world.obs2}"}},
            ],
        }

    async with _client(server, world, "user/Observation.crs") as app:
        refused = await app.post("", json=bundle("transaction"))
        assert refused.status_code == 403
        batch = await app.post("", json=bundle("batch"))
        assert batch.status_code == 200
        statuses = [e["response"]["status"][:3] for e in batch.json()["entry"]]
        assert statuses == ["201", "403", "200"]
    async with _client(server, world, "patient/Observation.crs", patient=world.p1) as confined:
        batch = await confined.post("", json=bundle("batch"))
        statuses = [e["response"]["status"][:3] for e in batch.json()["entry"]]
        assert statuses == ["201", "403", "404"]
    async with server.client(world.tenant) as admin:
        made = await admin.get("/Observation", params={"code": "1111-1"})
        assert len(_ids(made)) == 2  # one per batch; the refused transaction wrote nothing


async def test_conditional_interactions_are_searches(server: SecureServer, world: World) -> None:
    probe = {"If-None-Exist": f"subject=Patient/{world.p2}"}
    async with _client(server, world, "user/Observation.c") as create_only:
        refused = await create_only.post("/Observation", json=_observation(world.p1), headers=probe)
        assert refused.status_code == 403
        assert (
            await create_only.post("/Observation", json=_observation(world.p1))
        ).status_code == 201
    async with _client(server, world, "user/Observation.cs") as searcher:
        matched = await searcher.post("/Observation", json=_observation(world.p2), headers=probe)
        assert matched.status_code == 200  # p2's observation exists: nothing created
    async with _client(server, world, "patient/Observation.cs", patient=world.p1) as confined:
        # p2's observation is outside the compartment: no match, so a new one for p1
        made = await confined.post("/Observation", json=_observation(world.p1), headers=probe)
        assert made.status_code == 201
        assert made.json()["subject"]["reference"] == f"Patient/{world.p1}"


async def test_a_confined_caller_does_not_learn_of_other_patients_deletions(
    server: SecureServer, world: World
) -> None:
    async with server.client(world.tenant) as admin:
        assert (await admin.delete(f"/Observation/{world.obs2}")).status_code == 204
        assert (await admin.delete(f"/Observation/{world.obs1}")).status_code == 204
    async with _client(server, world, "patient/*.rs", patient=world.p1) as app:
        assert (await app.get(f"/Observation/{world.obs1}")).status_code == 410  # mine
        assert (await app.get(f"/Observation/{world.obs2}")).status_code == 404
        assert (await app.get(f"/Observation/{world.obs2}/_history/2")).status_code == 404
        assert (await app.get(f"/Observation/{world.obs1}/_history/2")).status_code == 410
