"""The FHIR terminology operations end to end through the API of `polyfhir run` (one process:
the gateway answers them with the terminology service in-process, fed from the primary), on
SQLite and PostgreSQL: definitions written through the API, then $lookup, $validate-code,
$subsumes, $expand (paging, filter, instance form, inline POST), $translate, the errors, and
a tenant that never sees another tenant's definitions. The same operations through the
terminology-indexer service: tests/stack/test_terminology_stack.py."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from conftest import Server
from fakes.terminology_data import DISORDERS, disorders, is_a, value_set

pytestmark = pytest.mark.integration

VIRAL = "http://example.org/fhir/ValueSet/viral-ops"
MAP = "http://example.org/fhir/ConceptMap/disorders-to-snomed"
SNOMED = "http://snomed.info/sct"
CONCEPT_MAP = {
    "resourceType": "ConceptMap",
    "url": MAP,
    "status": "active",
    "group": [
        {
            "source": DISORDERS,
            "target": SNOMED,
            "element": [
                {
                    "code": "FLU",
                    "target": [
                        {"code": "6142004", "display": "Influenza", "equivalence": "equivalent"}
                    ],
                }
            ],
        }
    ],
}


def _one_process(server: Server) -> None:
    if not server.topology.startswith("inprocess"):
        pytest.skip(
            "the gateway process alone has no terminology service (503: see the sibling test)"
        )


def _params(answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["resourceType"] == "Parameters"
    out: dict[str, Any] = {}
    for p in body["parameter"]:
        value = next((v for k, v in p.items() if k.startswith("value")), p.get("part"))
        out.setdefault(p["name"], []).append(value)
    return out


async def _seed(fhir: httpx.AsyncClient) -> str:
    for body in (disorders(), value_set(VIRAL, [is_a("VIR")]), CONCEPT_MAP):
        created = await fhir.post(f"/{body['resourceType']}", json=body)
        assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def test_lookup_validate_and_subsumes(server: Server, fhir: httpx.AsyncClient) -> None:
    _one_process(server)
    await _seed(fhir)
    looked_up = await fhir.get("/CodeSystem/$lookup", params={"system": DISORDERS, "code": "BAC"})
    assert looked_up.headers["x-polyfhir-route"] == "terminology-fallback"
    found = _params(looked_up)
    assert found["display"] == ["Bacterial infection"]
    assert found["name"] == ["Disorders"]

    valid = _params(
        await fhir.get(
            "/ValueSet/$validate-code", params={"url": VIRAL, "system": DISORDERS, "code": "FLU"}
        )
    )
    assert valid["result"] == [True]
    outside = _params(
        await fhir.get(
            "/ValueSet/$validate-code", params={"url": VIRAL, "system": DISORDERS, "code": "BAC"}
        )
    )
    assert outside["result"] == [False]
    wrong_display = _params(
        await fhir.get(
            "/CodeSystem/$validate-code",
            params={"url": DISORDERS, "code": "BAC", "display": "Viral infection"},
        )
    )
    assert wrong_display["result"] == [False] and wrong_display["message"]

    for a, b, outcome in (
        ("INF", "STREP", "subsumes"),
        ("COVID", "VIR", "subsumed-by"),
        ("TUM", "TUM", "equivalent"),
        ("TUM", "BAC", "not-subsumed"),
    ):
        answer = await fhir.get(
            "/CodeSystem/$subsumes", params={"system": DISORDERS, "codeA": a, "codeB": b}
        )
        assert _params(answer)["outcome"] == [outcome], (a, b)


async def test_expand_pages_filters_and_forms(server: Server, fhir: httpx.AsyncClient) -> None:
    _one_process(server)
    await _seed(fhir)
    whole = await fhir.get("/ValueSet/$expand", params={"url": VIRAL})
    assert whole.status_code == 200, whole.text
    expansion = whole.json()["expansion"]
    assert expansion["total"] == 3
    assert {c["code"] for c in expansion["contains"]} == {"VIR", "FLU", "COVID"}

    first = (await fhir.get("/ValueSet/$expand", params={"url": VIRAL, "count": 2})).json()
    second = (
        await fhir.get("/ValueSet/$expand", params={"url": VIRAL, "count": 2, "offset": 2})
    ).json()
    paged = [c["code"] for c in first["expansion"]["contains"] + second["expansion"]["contains"]]
    assert sorted(paged) == ["COVID", "FLU", "VIR"] and second["expansion"]["total"] == 3

    filtered = (
        await fhir.get("/ValueSet/$expand", params={"url": VIRAL, "filter": "corona"})
    ).json()
    assert [c["code"] for c in filtered["expansion"]["contains"]] == ["COVID"]

    vs_id = (await fhir.get("/ValueSet", params={"url": VIRAL})).json()["entry"][0]["resource"][
        "id"
    ]
    by_id = await fhir.get(f"/ValueSet/{vs_id}/$expand")
    assert by_id.status_code == 200, by_id.text
    assert by_id.json()["expansion"]["total"] == 3

    inline = value_set("http://example.org/fhir/ValueSet/inline", [is_a("BAC")])
    posted = await fhir.post(
        "/ValueSet/$expand",
        json={
            "resourceType": "Parameters",
            "parameter": [{"name": "valueSet", "resource": inline}],
        },
    )
    assert posted.status_code == 200, posted.text
    assert {c["code"] for c in posted.json()["expansion"]["contains"]} == {"BAC", "STREP"}


async def test_translate_and_errors(server: Server, fhir: httpx.AsyncClient) -> None:
    _one_process(server)
    await _seed(fhir)
    translated = _params(
        await fhir.get(
            "/ConceptMap/$translate", params={"url": MAP, "system": DISORDERS, "code": "FLU"}
        )
    )
    assert translated["result"] == [True]
    unknown = await fhir.get(
        "/CodeSystem/$lookup", params={"system": "http://nowhere", "code": "x"}
    )
    assert unknown.status_code == 404, unknown.text
    assert unknown.json()["resourceType"] == "OperationOutcome"
    missing = await fhir.get("/CodeSystem/$lookup", params={"code": "x"})
    assert missing.status_code == 400, missing.text


async def test_another_tenant_never_sees_the_definitions(
    server: Server, fhir: httpx.AsyncClient, tenant: str
) -> None:
    _one_process(server)
    await _seed(fhir)
    async with server.client(f"{tenant}x") as other:
        expand = await other.get("/ValueSet/$expand", params={"url": VIRAL})
        lookup = await other.get("/CodeSystem/$lookup", params={"system": DISORDERS, "code": "BAC"})
    assert expand.status_code == 404, expand.text
    assert lookup.status_code == 404, lookup.text
