"""A repeated terminology question is answered from the process's answer cache only while
no definition changed: in `polyfhir run` (one process) on SQLite and PostgreSQL, the same
`$lookup`, `$validate-code` and `$subsumes` asked before and right after a CodeSystem or
ValueSet is updated, deleted or created again answer from the definitions as they are now
(docs/terminology.md, "In one process"). Writes of other types leave answers alone."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from conftest import Server

pytestmark = pytest.mark.integration

SYS = "http://example.org/fhir/CodeSystem/answers-follow"
VS = "http://example.org/fhir/ValueSet/answers-follow"


def _one_process(server: Server) -> None:
    if not server.topology.startswith("inprocess"):
        pytest.skip("the gateway process alone has no terminology service")


def codesystem(display: str, nested: bool) -> dict[str, Any]:
    """``HEART`` with ``AFIB`` below it (``nested``) or beside it, ``AFIB`` shown as ``display``."""
    afib = {"code": "AFIB", "display": display}
    heart: dict[str, Any] = {"code": "HEART", "display": "Heart disorder"}
    concepts = [{**heart, "concept": [afib]}] if nested else [heart, afib]
    return {
        "resourceType": "CodeSystem",
        "id": "cs",
        "url": SYS,
        "status": "active",
        "content": "complete",
        "hierarchyMeaning": "is-a",
        "concept": concepts,
    }


def valueset(code: str) -> dict[str, Any]:
    return {
        "resourceType": "ValueSet",
        "id": "vs",
        "url": VS,
        "status": "active",
        "compose": {"include": [{"system": SYS, "concept": [{"code": code}]}]},
    }


def _params(answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code == 200, answer.text
    return {
        p["name"]: next(v for k, v in p.items() if k.startswith("value"))
        for p in answer.json()["parameter"]
        if any(k.startswith("value") for k in p)
    }


async def _answers(fhir: httpx.AsyncClient) -> tuple[str, bool, str, bool]:
    """AFIB's display, whether "Atrial fibrillation" is a valid display of it, how HEART
    relates to AFIB, whether AFIB is in the value set: each asked twice (the second
    answer may come from the cache and must equal the first)."""
    seen = []
    for _ in range(2):
        lookup = _params(
            await fhir.get("/CodeSystem/$lookup", params={"system": SYS, "code": "AFIB"})
        )
        checked = _params(
            await fhir.get(
                "/CodeSystem/$validate-code",
                params={"url": SYS, "code": "AFIB", "display": "Atrial fibrillation"},
            )
        )
        subsumes = _params(
            await fhir.get(
                "/CodeSystem/$subsumes", params={"system": SYS, "codeA": "HEART", "codeB": "AFIB"}
            )
        )
        member = _params(
            await fhir.get(
                "/ValueSet/$validate-code", params={"url": VS, "system": SYS, "code": "AFIB"}
            )
        )
        seen.append((lookup["display"], checked["result"], subsumes["outcome"], member["result"]))
    assert seen[0] == seen[1]
    return seen[0]


async def _define(
    fhir: httpx.AsyncClient,
    display: str,
    active: bool,
    member: str,
    statuses: tuple[tuple[int, ...], tuple[int, ...]] = ((201,), (201,)),
) -> None:
    """PUT the CodeSystem ``cs`` and the ValueSet ``vs``; ``statuses``: what each may answer."""
    written = await fhir.put("/CodeSystem/cs", json=codesystem(display, active))
    assert written.status_code in statuses[0], written.text
    written = await fhir.put("/ValueSet/vs", json=valueset(member))
    assert written.status_code in statuses[1], written.text


async def test_answers_follow_every_definition_change(
    server: Server, fhir: httpx.AsyncClient
) -> None:
    _one_process(server)
    await _define(fhir, "Atrial fibrillation", True, "AFIB")
    assert await _answers(fhir) == ("Atrial fibrillation", True, "subsumes", True)

    assert (await fhir.put("/CodeSystem/cs", json=codesystem("AF", False))).status_code == 200
    assert await _answers(fhir) == ("AF", False, "not-subsumed", True)

    assert (await fhir.put("/ValueSet/vs", json=valueset("HEART"))).status_code == 200
    assert await _answers(fhir) == ("AF", False, "not-subsumed", False)

    assert (await fhir.delete("/CodeSystem/cs")).status_code in (200, 204)
    gone = await fhir.get("/CodeSystem/$lookup", params={"system": SYS, "code": "AFIB"})
    assert gone.status_code == 404, gone.text

    await _define(fhir, "Atrial fibrillation", True, "AFIB", ((200, 201), (200,)))
    assert await _answers(fhir) == ("Atrial fibrillation", True, "subsumes", True)


async def test_writes_of_other_types_keep_the_answers(
    server: Server, fhir: httpx.AsyncClient
) -> None:
    _one_process(server)
    await _define(fhir, "Atrial fibrillation", True, "AFIB")
    before = await _answers(fhir)
    for n in range(3):
        observation = {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": SYS, "code": "AFIB"}]},
        }
        assert (await fhir.post("/Observation", json=observation)).status_code == 201, n
        assert await _answers(fhir) == before


async def test_a_tenant_never_gets_another_tenants_cached_answer(
    server: Server, fhir: httpx.AsyncClient, tenant: str
) -> None:
    _one_process(server)
    await _define(fhir, "Atrial fibrillation", True, "AFIB")
    assert await _answers(fhir) == ("Atrial fibrillation", True, "subsumes", True)
    async with server.client(f"{tenant}-other") as other:
        await _define(other, "AF", True, "AFIB")
        assert await _answers(other) == ("AF", False, "subsumes", True)
    assert await _answers(fhir) == ("Atrial fibrillation", True, "subsumes", True)
