"""_text (narrative) and _content (all text): stemming, phrases, prefixes, boolean syntax."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.integration


def condition(narrative: str, note: str = "") -> dict[str, object]:
    body: dict[str, object] = {
        "resourceType": "Condition",
        "subject": {"reference": "Patient/x"},
        "text": {
            "status": "generated",
            "div": f'<div xmlns="http://www.w3.org/1999/xhtml"><p>{narrative}</p></div>',
        },
        "code": {"text": "condition"},
    }
    if note:
        body["note"] = [{"text": note}]
    return body


async def _seed(fhir: httpx.AsyncClient) -> dict[str, str]:
    docs = {
        "fever": condition("Patient was running a high fever", "treated with paracetamol"),
        "asthma": condition("Chronic asthma, worse when running outdoors"),
        "fracture": condition("Fracture of the left wrist", "fell while cycling"),
    }
    ids = {}
    for key, body in docs.items():
        ids[key] = (await fhir.post("/Condition", json=body)).json()["id"]
    return ids


async def _found(fhir: httpx.AsyncClient, **params: str) -> set[str]:
    response = await fhir.get("/Condition", params=params)
    assert response.status_code == 200, response.text
    return {e["resource"]["id"] for e in response.json()["entry"]}


async def test_text_searches_narrative_with_stemming(fhir: httpx.AsyncClient) -> None:
    ids = await _seed(fhir)
    assert await _found(fhir, _text="runs") == {ids["fever"], ids["asthma"]}
    assert await _found(fhir, _text="fevers") == {ids["fever"]}
    assert await _found(fhir, _text="paracetamol") == set()  # only in a note, not the narrative
    assert await _found(fhir, _content="paracetamol") == {ids["fever"]}


async def test_phrases_prefixes_and_boolean(fhir: httpx.AsyncClient) -> None:
    ids = await _seed(fhir)
    assert await _found(fhir, _text='"high fever"') == {ids["fever"]}
    assert await _found(fhir, _text='"fever high"') == set()
    assert await _found(fhir, _text="fract*") == {ids["fracture"]}
    assert await _found(fhir, _text="running asthma") == {ids["asthma"]}
    assert await _found(fhir, _text="fever OR wrist") == {ids["fever"], ids["fracture"]}
    assert await _found(fhir, _text="running -asthma") == {ids["fever"]}
    assert await _found(fhir, _text="running NOT fever") == {ids["asthma"]}
    assert await _found(fhir, _text="wrist,asthma") == {ids["fracture"], ids["asthma"]}


async def test_documents_follow_updates_and_deletes(fhir: httpx.AsyncClient) -> None:
    ids = await _seed(fhir)
    rid = ids["fracture"]
    changed = {**condition("Sprained ankle"), "id": rid}
    assert (await fhir.put(f"/Condition/{rid}", json=changed)).status_code == 200
    assert await _found(fhir, _text="wrist") == set()
    assert await _found(fhir, _text="ankle") == {rid}
    assert (await fhir.delete(f"/Condition/{rid}")).status_code == 204
    assert await _found(fhir, _text="ankle") == set()


async def test_full_text_stays_in_tenant(server, fhir: httpx.AsyncClient, tenant: str) -> None:  # type: ignore[no-untyped-def]
    await _seed(fhir)
    async with server.client(tenant + "-other") as other:
        response = await other.get("/Condition", params={"_text": "fever"})
    assert response.json()["total"] == 0


@pytest.mark.parametrize("query", ["-fever", "NOT fever", '""', "***"])
async def test_unanswerable_queries_are_400(fhir: httpx.AsyncClient, query: str) -> None:
    response = await fhir.get("/Condition", params={"_text": query})
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


async def test_first_page_of_a_common_word_is_the_first_in_order(fhir: httpx.AsyncClient) -> None:
    """The first page is the first matches in the default order, whether the word is in
    most documents of the type (PostgreSQL finds it by walking that order) or in few
    (the walk comes up short, and every match is sorted)."""
    for batch in range(2):  # two transactions: ties in lastUpdated within each
        entries = [
            {
                "resource": condition(
                    ("wheezing " if n % 2 else "")
                    + ("syncope " if batch == 1 and n >= 17 else "")
                    + f"case {batch}-{n}"
                ),
                "request": {"method": "POST", "url": "Condition"},
            }
            for n in range(20)
        ]
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
        assert (await fhir.post("/", json=bundle)).status_code == 200

    async def ids(**params: str) -> list[str]:
        response = await fhir.get("/Condition", params={"_total": "none", **params})
        assert response.status_code == 200, response.text
        return [e["resource"]["id"] for e in response.json().get("entry", [])]

    for word, matches in (("wheezing", 20), ("syncope", 3)):
        everything = await ids(_text=word, _count="100")
        assert len(everything) == matches
        assert await ids(_text=word, _count="3") == everything[:3]
        assert await ids(_text=word, _count="2", _offset="2") == everything[2:4]


async def test_full_text_totals_and_pages_agree(fhir: httpx.AsyncClient) -> None:
    """Whichever statement finds the page (PostgreSQL reads documents in order and
    tests each one's words; a rarer word is found by its index entries instead),
    the page is the first matches in order and the total is the number of matches:
    exact up to 100, more than 100 beyond."""
    entries = [
        {
            "resource": condition(
                "wheezing" + (" syncope" if n % 40 == 7 else "") + (" stridor" if n < 3 else "")
            ),
            "request": {"method": "POST", "url": "Condition"},
        }
        for n in range(110)
    ]
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    assert (await fhir.post("/", json=bundle)).status_code == 200

    async def search(**params: str) -> tuple[list[str], int | None]:
        response = await fhir.get("/Condition", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        return [e["resource"]["id"] for e in body.get("entry", [])], body.get("total")

    for word, matches in (("wheezing", 110), ("syncope", 3), ("stridor", 3)):
        everything, _ = await search(_text=word, _count="200", _total="none")
        assert len(everything) == matches
        assert await search(_text=word, _count="5", _total="accurate") == (
            everything[:5],
            matches,
        )
        page, estimated = await search(_text=word, _count="2", _total="estimate")
        assert page == everything[:2]
        assert estimated is not None
        assert estimated > 100 if matches > 100 else estimated == matches
        # another clause restricts the documents read in order
        chosen = ",".join(everything[1:3])
        assert await search(_text=word, _id=chosen, _total="accurate") == (everything[1:3], 2)
