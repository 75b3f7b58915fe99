"""Reference search, chains of several levels, _has (nested), _include/_revinclude."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
import pytest

from conftest import Server

pytestmark = pytest.mark.integration


def tx(*entries: dict[str, object]) -> dict[str, object]:
    return {"resourceType": "Bundle", "type": "transaction", "entry": list(entries)}


def put(resource: Mapping[str, object]) -> dict[str, object]:
    return {
        "resource": resource,
        "request": {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"},
    }


ORG = {"resourceType": "Organization", "id": "org1", "name": "Acme Clinic"}
GP = {"resourceType": "Practitioner", "id": "gp1", "name": [{"family": "House"}]}
ANN = {
    "resourceType": "Patient",
    "id": "ann",
    "name": [{"family": "Smith", "given": ["Ann"]}],
    "gender": "female",
    "managingOrganization": {"reference": "Organization/org1"},
    "generalPractitioner": [{"reference": "Practitioner/gp1"}],
}
BOB = {"resourceType": "Patient", "id": "bob", "name": [{"family": "Jones"}], "gender": "male"}


def obs(oid: str, patient: str, code: str) -> dict[str, object]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"reference": f"Patient/{patient}"},
    }


async def _seed(fhir: httpx.AsyncClient) -> None:
    bundle = tx(
        put(ORG),
        put(GP),
        put(ANN),
        put(BOB),
        put(obs("o1", "ann", "8867-4")),
        put(obs("o2", "bob", "8867-4")),
        put(obs("o3", "ann", "2339-0")),
    )
    response = await fhir.post("", json=bundle)
    assert response.status_code == 200, response.text


async def _ids(fhir: httpx.AsyncClient, path: str, **params: str) -> list[str]:
    response = await fhir.get(path, params=params)
    assert response.status_code == 200, response.text
    return sorted(
        e["resource"]["id"] for e in response.json()["entry"] if e["search"]["mode"] == "match"
    )


async def test_reference_forms(fhir: httpx.AsyncClient) -> None:
    await _seed(fhir)
    assert await _ids(fhir, "/Observation", subject="Patient/ann") == ["o1", "o3"]
    assert await _ids(fhir, "/Observation", subject="ann") == ["o1", "o3"]
    assert await _ids(fhir, "/Observation", **{"subject:Patient": "bob"}) == ["o2"]
    assert await _ids(fhir, "/Observation", patient="ann,bob") == ["o1", "o2", "o3"]
    assert await _ids(fhir, "/Observation", subject="Group/ann") == []


async def test_chains(fhir: httpx.AsyncClient) -> None:
    await _seed(fhir)
    assert await _ids(fhir, "/Observation", **{"subject:Patient.name": "smi"}) == ["o1", "o3"]
    assert await _ids(fhir, "/Observation", **{"patient.gender": "male"}) == ["o2"]
    assert await _ids(fhir, "/Observation", **{"subject:Patient.organization.name": "acme"}) == [
        "o1",
        "o3",
    ]
    assert await _ids(
        fhir, "/Observation", **{"patient.general-practitioner.name": "house", "code": "2339-0"}
    ) == ["o3"]


async def test_has_and_nested_has(fhir: httpx.AsyncClient) -> None:
    await _seed(fhir)
    assert await _ids(fhir, "/Patient", **{"_has:Observation:patient:code": "2339-0"}) == ["ann"]
    assert await _ids(fhir, "/Patient", **{"_has:Observation:patient:code": "8867-4"}) == [
        "ann",
        "bob",
    ]
    nested = await _ids(
        fhir,
        "/Organization",
        **{"_has:Patient:organization:_has:Observation:patient:code": "2339-0"},
    )
    assert nested == ["org1"]


async def test_include_and_revinclude(fhir: httpx.AsyncClient) -> None:
    await _seed(fhir)
    bundle = (
        await fhir.get("/Observation", params={"code": "2339-0", "_include": "Observation:subject"})
    ).json()
    modes = sorted((e["search"]["mode"], e["resource"]["id"]) for e in bundle["entry"])
    assert modes == [("include", "ann"), ("match", "o3")]
    rev = (
        await fhir.get("/Patient", params={"_id": "ann", "_revinclude": "Observation:subject"})
    ).json()
    assert sorted(e["resource"]["id"] for e in rev["entry"]) == ["ann", "o1", "o3"]
    iterate = (
        await fhir.get(
            "/Observation",
            params={
                "_id": "o1",
                "_include": "Observation:subject",
                "_include:iterate": "Patient:organization",
            },
        )
    ).json()
    assert sorted(e["resource"]["id"] for e in iterate["entry"]) == ["ann", "o1", "org1"]
    star = (await fhir.get("/Patient", params={"_id": "ann", "_include": "Patient:*"})).json()
    assert sorted(e["resource"]["id"] for e in star["entry"]) == ["ann", "gp1", "org1"]


async def test_chains_and_includes_never_cross_tenants(
    server: Server, fhir: httpx.AsyncClient, tenant: str
) -> None:
    await _seed(fhir)
    async with server.client(tenant + "-b") as other:
        await other.put(
            "/Observation/ox", json=obs("ox", "ann", "2339-0")
        )  # dangling: ann lives in tenant a
        assert await _ids(other, "/Observation", **{"patient.gender": "female"}) == []
        bundle = (
            await other.get("/Observation", params={"_include": "Observation:subject"})
        ).json()
        assert [e["resource"]["id"] for e in bundle["entry"]] == ["ox"]
        assert await _ids(other, "/Patient", **{"_has:Observation:patient:code": "2339-0"}) == []


@pytest.mark.parametrize(
    "params",
    [
        {"_include": "Observation"},
        {"_include:bogus": "Observation:subject"},
        {"_has:Observation:code": "x"},
        {"_has:Observation:nope:code": "x"},
    ],
)
async def test_bad_reference_searches_are_400(
    fhir: httpx.AsyncClient, params: dict[str, str]
) -> None:
    assert (await fhir.get("/Patient", params=params)).status_code == 400


async def test_chains_and_has_never_match_through_deleted_resources(
    fhir: httpx.AsyncClient,
) -> None:
    await _seed(fhir)
    report = {
        "resourceType": "DiagnosticReport",
        "id": "dr1",
        "status": "final",
        "code": {"text": "panel"},
        "result": [{"reference": "Observation/o1"}, {"reference": "Observation/o2"}],
    }
    assert (await fhir.put("/DiagnosticReport/dr1", json=report)).status_code == 201
    chain1 = {"subject:Patient.gender": "female,male"}
    chain2 = {"result.subject:Patient.gender": "male"}
    has = {"_has:Observation:subject:code": "8867-4"}
    assert sorted(await _ids(fhir, "/Observation", **chain1)) == ["o1", "o2", "o3"]
    assert await _ids(fhir, "/DiagnosticReport", **chain2) == ["dr1"]
    assert sorted(await _ids(fhir, "/Patient", **has)) == ["ann", "bob"]

    assert (await fhir.delete("/Patient/bob")).status_code in (200, 204)
    assert sorted(await _ids(fhir, "/Observation", **chain1)) == ["o1", "o3"]
    assert await _ids(fhir, "/DiagnosticReport", **chain2) == []
    assert (await fhir.delete("/Observation/o1")).status_code in (200, 204)
    assert await _ids(fhir, "/Patient", **has) == []
    assert (
        await _ids(fhir, "/DiagnosticReport", **{"result.subject:Patient.gender": "female"}) == []
    )


async def test_chain_totals_and_pages_agree(fhir: httpx.AsyncClient) -> None:
    # ann's two name rows both match "smi": each of her Observations is found twice
    smith = {**ANN, "name": [{"family": "Smith", "given": ["Smithy"]}]}
    mine = [f"a{n:02d}" for n in (17, 3, 25, 8, 11, 1, 22, 14, 6, 19, 9, 2)]
    codes = {oid: "8867-4" if n % 3 else "2339-0" for n, oid in enumerate(mine)}
    others = [put(obs(f"b{n}", "bob", "8867-4")) for n in range(3)]
    bundle = tx(put(ORG), put(GP), put(smith), put(BOB), *others)
    bundle["entry"] += [put(obs(oid, "ann", codes[oid])) for oid in mine]  # type: ignore[operator]
    assert (await fhir.post("", json=bundle)).status_code == 200

    async def pages(total: str, **params: str) -> list[str]:
        seen: list[str] = []
        totals = set()
        for offset in (0, 5, 10, 15):
            query = {**params, "_count": "5", "_offset": str(offset), "_total": total}
            page = (await fhir.get("/Observation", params=query)).json()
            totals.add(page["total"])
            seen += [e["resource"]["id"] for e in page.get("entry", [])]
        assert totals == {len(seen)}  # every page counts the matches all pages list
        return seen

    for total in ("accurate", "estimate"):
        chain = await pages(total, **{"subject:Patient.name": "smi"})
        assert chain == sorted(mine)  # each once, in id order across pages
        coded = await pages(total, **{"subject:Patient.name": "smi", "code": "2339-0"})
        assert coded == sorted(oid for oid in mine if codes[oid] == "2339-0")
        deeper = await pages(total, **{"patient.organization.name": "acme"})
        assert deeper == sorted(mine)
        for params, expected in (
            ({"subject:Patient.name": "smi"}, len(mine)),
            ({"subject:Patient.name": "smi,jones"}, len(mine) + 3),
        ):
            for offset in ("0", "10", "40"):  # the last beyond every match
                query = {**params, "_count": "5", "_offset": offset, "_total": total}
                assert (await fhir.get("/Observation", params=query)).json()["total"] == expected


async def test_bare_wildcard_include_and_revinclude(fhir: httpx.AsyncClient) -> None:
    await _seed(fhir)
    forward = await fhir.get("/Observation", params={"_id": "o1", "_include": "*"})
    assert forward.status_code == 200, forward.text
    entries = forward.json()["entry"]
    assert sorted(e["resource"]["id"] for e in entries) == ["ann", "o1"]
    iterate = await fhir.get(
        "/Observation", params={"_id": "o1", "_include": "*", "_include:iterate": "*"}
    )
    assert sorted(e["resource"]["id"] for e in iterate.json()["entry"]) == [
        "ann",
        "gp1",
        "o1",
        "org1",
    ]
    reverse = await fhir.get("/Patient", params={"_id": "ann", "_revinclude": "*"})
    assert reverse.status_code == 200, reverse.text
    modes = sorted((e["search"]["mode"], e["resource"]["id"]) for e in reverse.json()["entry"])
    assert modes == [("include", "o1"), ("include", "o3"), ("match", "ann")]
    self_link = next(x["url"] for x in reverse.json()["link"] if x["relation"] == "self")
    assert "_revinclude=%2A" in self_link
