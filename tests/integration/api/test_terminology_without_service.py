"""Terminology over the API when no terminology service is configured: in the gateway
process alone (the two-process topology) the operations answer 503 naming the missing
backend (in one process, `polyfhir run` answers them itself: test_terminology_operations.py);
on every topology the token modifiers answer from the primary's own closure, and a long token list (what the router
sends when the terminology service resolves a modifier) is one bound list per system on
SQLite (``json_each``) and PostgreSQL (``= ANY``), not an ``OR`` per code."""

from __future__ import annotations

from urllib.parse import urlencode

import httpx
import pytest

from conftest import Server

pytestmark = pytest.mark.integration

SYS = "http://example.org/fhir/CodeSystem/findings-ops"
VS = "http://example.org/fhir/ValueSet/findings-ops-heart"
PARAMETERS = {
    "resourceType": "Parameters",
    "parameter": [{"name": "url", "valueUri": VS}],
}

CODESYSTEM = {
    "resourceType": "CodeSystem",
    "url": SYS,
    "status": "active",
    "content": "complete",
    "hierarchyMeaning": "is-a",
    "concept": [
        {"code": "heart", "concept": [{"code": "afib"}, {"code": "infarct"}]},
        {"code": "lung"},
    ],
}
VALUESET = {
    "resourceType": "ValueSet",
    "url": VS,
    "status": "active",
    "compose": {
        "include": [
            {"system": SYS, "filter": [{"property": "concept", "op": "is-a", "value": "heart"}]}
        ]
    },
}


def observation(code: str, system: str = SYS) -> dict[str, object]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": system, "code": code}]},
    }


def _gateway_alone(server: Server) -> None:
    if server.topology.startswith("inprocess"):
        pytest.skip("polyfhir run answers the operations in-process")


@pytest.mark.parametrize(
    "path",
    [
        f"CodeSystem/$lookup?system={SYS}&code=afib",
        f"CodeSystem/$validate-code?url={SYS}&code=afib",
        f"CodeSystem/$subsumes?system={SYS}&codeA=heart&codeB=afib",
        f"ValueSet/$validate-code?url={VS}&system={SYS}&code=afib",
        f"ValueSet/$expand?url={VS}",
        "ValueSet/some-id/$expand",
        f"ConceptMap/$translate?system={SYS}&code=afib",
    ],
)
async def test_operations_without_a_terminology_service_are_503(
    server: Server, fhir: httpx.AsyncClient, path: str
) -> None:
    _gateway_alone(server)
    answer = await fhir.get(f"/{path}")
    assert answer.status_code == 503, answer.text
    outcome = answer.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert "terminology" in outcome["issue"][0]["diagnostics"]


async def test_a_posted_operation_without_a_service_is_503_and_bad_input_400(
    server: Server, fhir: httpx.AsyncClient
) -> None:
    _gateway_alone(server)
    answer = await fhir.post("/ValueSet/$expand", json=PARAMETERS)
    assert answer.status_code == 503, answer.text
    bad = await fhir.post("/ValueSet/$expand", json={"resourceType": "Parameters", "parameter": []})
    assert bad.status_code == 400, bad.text
    assert bad.json()["resourceType"] == "OperationOutcome"


async def _seed(fhir: httpx.AsyncClient) -> dict[str, str]:
    assert (await fhir.post("/CodeSystem", json=CODESYSTEM)).status_code == 201
    assert (await fhir.post("/ValueSet", json=VALUESET)).status_code == 201
    ids = {}
    for code in ("heart", "afib", "infarct", "lung"):
        ids[code] = (await fhir.post("/Observation", json=observation(code))).json()["id"]
    return ids


async def _found(fhir: httpx.AsyncClient, ids: dict[str, str], query: str) -> set[str]:
    answer = await fhir.get(f"/Observation?{query}")
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-polyfhir-route"] == "primary"
    by_id = {v: k for k, v in ids.items()}
    return {by_id[e["resource"]["id"]] for e in answer.json().get("entry", [])}


async def test_the_modifiers_answer_from_the_primarys_closure(fhir: httpx.AsyncClient) -> None:
    ids = await _seed(fhir)
    below = await _found(fhir, ids, urlencode({"code:below": f"{SYS}|heart"}))
    assert below == {"heart", "afib", "infarct"}
    inside = await _found(fhir, ids, urlencode({"code:in": VS}))
    assert inside == {"heart", "afib", "infarct"}
    outside = await _found(fhir, ids, urlencode({"code:not-in": VS}))
    assert outside == {"lung"}


async def test_a_long_token_list_is_answered_on_every_engine(fhir: httpx.AsyncClient) -> None:
    """1,500 codes in two systems: an OR per code would exceed SQLite's expression depth."""
    ids = await _seed(fhir)
    other = "http://example.org/other"
    ids["elsewhere"] = (await fhir.post("/Observation", json=observation("x-7", other))).json()[
        "id"
    ]
    codes = [f"{SYS}|filler-{n}" for n in range(1000)] + [f"{other}|x-{n}" for n in range(500)]
    listed = ",".join([*codes, f"{SYS}|afib", f"{SYS}|lung"])
    form = {"content-type": "application/x-www-form-urlencoded"}
    answer = await fhir.post(
        "/Observation/_search", content=urlencode({"code": listed}).encode(), headers=form
    )
    assert answer.status_code == 200, answer.text
    by_id = {v: k for k, v in ids.items()}
    assert {by_id[e["resource"]["id"]] for e in answer.json()["entry"]} == {
        "afib",
        "lung",
        "elsewhere",
    }
    negated = await fhir.post(
        "/Observation/_search", content=urlencode({"code:not": listed}).encode(), headers=form
    )
    assert negated.status_code == 200, negated.text
    assert {by_id[e["resource"]["id"]] for e in negated.json()["entry"]} == {"heart", "infarct"}


async def test_a_long_code_list_of_one_system_alone_and_with_other_filters(
    fhir: httpx.AsyncClient,
) -> None:
    """2,000 codes of one system (a :below set as the router sends it): on SQLite the list
    drives its clause (a table of the codes joined to the token index), alone, beside
    another filter, counted, paged, and with escaped codes; the same answers on PostgreSQL."""
    ids = await _seed(fhir)
    odd = {**observation("a,b|c"), "status": "preliminary"}
    ids["odd"] = (await fhir.post("/Observation", json=odd)).json()["id"]
    codes = [f"{SYS}|filler-{n}" for n in range(2000)]
    listed = ",".join([*codes, f"{SYS}|afib", f"{SYS}|lung", f"{SYS}|a\\,b\\|c", f"{SYS}|afib"])
    form = {"content-type": "application/x-www-form-urlencoded"}
    by_id = {v: k for k, v in ids.items()}

    async def search(**params: str) -> tuple[set[str], int | None]:
        body = urlencode({"code": listed, **params}).encode()
        answer = await fhir.post("/Observation/_search", content=body, headers=form)
        assert answer.status_code == 200, answer.text
        bundle = answer.json()
        return {by_id[e["resource"]["id"]] for e in bundle.get("entry", [])}, bundle.get("total")

    assert (await search(_total="accurate")) == ({"afib", "lung", "odd"}, 3)
    assert (await search(status="final"))[0] == {"afib", "lung"}
    assert (await search(status="preliminary"))[0] == {"odd"}
    assert (await search(_summary="count"))[1] == 3
    first, _ = await search(_count="2", _total="accurate")
    assert len(first) == 2
