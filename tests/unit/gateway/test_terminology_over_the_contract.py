"""The operations and the modifiers with the terminology index behind the internal HTTP API
(the contract's generated server and client, in memory): every request and answer type
survives the trip, and the service's errors arrive with their status and issue code."""

from __future__ import annotations

from pathlib import Path

import pytest

from unit.gateway.terminology_harness import SYSTEM, VS, TerminologyGateway, build_gateway


@pytest.fixture
def gw(tmp_path: Path) -> TerminologyGateway:
    return build_gateway(tmp_path, over_the_wire=True)


async def test_lookup_and_expand_of_an_inline_value_set(gw: TerminologyGateway) -> None:
    async with gw.client() as c:
        lookup = await c.get(f"/fhir/CodeSystem/$lookup?system={SYSTEM}&code=A11")
        inline = {
            "resourceType": "ValueSet",
            "status": "active",
            "compose": {"include": [{"system": SYSTEM, "concept": [{"code": "A2"}]}]},
        }
        body = {
            "resourceType": "Parameters",
            "parameter": [{"name": "valueSet", "resource": inline}],
        }
        expanded = await c.post("/fhir/ValueSet/$expand", json=body)
    assert lookup.status_code == 200, lookup.text
    assert {"name": "display", "valueString": "Influenza"} in lookup.json()["parameter"]
    assert expanded.status_code == 200, expanded.text
    assert [e["code"] for e in expanded.json()["expansion"]["contains"]] == ["A2"]


async def test_errors_keep_their_status_and_code(gw: TerminologyGateway) -> None:
    assert gw.index is not None
    gw.index.max_expansion = 1
    async with gw.client() as c:
        unknown = await c.get("/fhir/ValueSet/$expand?url=http://nope")
        costly = await c.get(f"/fhir/ValueSet/$expand?url={VS}")
    assert unknown.status_code == 404
    assert costly.status_code == 400
    assert costly.json()["issue"][0]["code"] == "too-costly"


async def test_subsumes_and_a_modifier(gw: TerminologyGateway) -> None:
    rid = await gw.observation("A11")
    await gw.observation("A2")
    async with gw.client() as c:
        subsumes = await c.get(f"/fhir/CodeSystem/$subsumes?system={SYSTEM}&codeA=A&codeB=A11")
        below = await c.get(f"/fhir/Observation?code:below={SYSTEM}|A1")
    assert {"name": "outcome", "valueCode": "subsumes"} in subsumes.json()["parameter"]
    assert below.headers["x-polyfhir-route"] == "terminology,primary"
    assert [e["resource"]["id"] for e in below.json()["entry"]] == [rid]
