"""Composite search parameters (search.html §3.1.1.4.8): ``a$b`` per element, hand-checked.

Runs over every backend and topology. The data: two blood-pressure panels
(c1 systolic 150 / diastolic 95, c2 110 / 70), a smoking status with a coded
value (c3), a body weight (c4) and an observation whose code holds a ``$``.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SCT = "http://snomed.info/sct"
LOCAL = "http://example.org/codes"


def _coded(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def _mmhg(value: float) -> dict[str, Any]:
    return {"value": value, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}


def _panel(oid: str, systolic: float, diastolic: float) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": _coded(LOINC, "85354-9"),
        "component": [
            {"code": _coded(LOINC, "8480-6"), "valueQuantity": _mmhg(systolic)},
            {"code": _coded(LOINC, "8462-4"), "valueQuantity": _mmhg(diastolic)},
        ],
    }


OBSERVATIONS: list[dict[str, Any]] = [
    _panel("c1", 150, 95),
    _panel("c2", 110, 70),
    {
        "resourceType": "Observation",
        "id": "c3",
        "status": "final",
        "code": _coded(LOINC, "72166-2"),
        "valueCodeableConcept": _coded(SCT, "8517006"),
    },
    {
        "resourceType": "Observation",
        "id": "c4",
        "status": "final",
        "code": _coded(LOINC, "29463-7"),
        "valueQuantity": {"value": 80, "unit": "kg", "system": UCUM, "code": "kg"},
    },
    {
        "resourceType": "Observation",
        "id": "c5",
        "status": "final",
        "code": _coded(LOCAL, "a$b"),
        "valueCodeableConcept": _coded(LOCAL, "yes"),
    },
]

CCVQ = "component-code-value-quantity"
CASES: list[tuple[str, list[tuple[str, str]], list[str]]] = [
    ("component-system-code-gt", [(CCVQ, f"{LOINC}|8480-6$gt140")], ["c1"]),
    ("component-code-only", [(CCVQ, "8480-6$gt100")], ["c1", "c2"]),
    # the diastolic 95 < 100 must not pair with the systolic code of the same observation
    ("component-parts-stay-together", [(CCVQ, "8480-6$lt100")], []),
    ("component-diastolic", [(CCVQ, "8462-4$lt80")], ["c2"]),
    ("component-or", [(CCVQ, "8480-6$gt140,8462-4$lt80")], ["c1", "c2"]),
    ("component-and", [(CCVQ, "8480-6$gt140"), (CCVQ, "8462-4$gt90")], ["c1"]),
    ("component-and-none", [(CCVQ, "8480-6$gt140"), (CCVQ, "8462-4$lt80")], []),
    ("component-units", [(CCVQ, f"8480-6$ge150|{UCUM}|mm[Hg]")], ["c1"]),
    ("component-wrong-units", [(CCVQ, f"8480-6$ge150|{UCUM}|kg")], []),
    ("code-value-quantity", [("code-value-quantity", f"{LOINC}|29463-7$ge80")], ["c4"]),
    ("code-value-quantity-lt", [("code-value-quantity", "29463-7$lt80")], []),
    ("code-value-quantity-precision", [("code-value-quantity", "29463-7$80")], ["c4"]),
    ("combo-on-component", [("combo-code-value-quantity", "8480-6$gt140")], ["c1"]),
    ("combo-on-observation", [("combo-code-value-quantity", "29463-7$80")], ["c4"]),
    ("code-value-concept", [("code-value-concept", f"{LOINC}|72166-2${SCT}|8517006")], ["c3"]),
    ("code-value-concept-no-system", [("code-value-concept", "72166-2$|8517006")], []),
    ("escaped-dollar", [("code-value-concept", f"{LOCAL}|a\\$b$yes")], ["c5"]),
    ("combo-value-concept", [("combo-code-value-concept", "72166-2$8517006")], ["c3"]),
]


@pytest.fixture
async def seeded(fhir: httpx.AsyncClient) -> httpx.AsyncClient:
    entries = [
        {"resource": r, "request": {"method": "PUT", "url": f"Observation/{r['id']}"}}
        for r in OBSERVATIONS
    ]
    response = await fhir.post(
        "", json={"resourceType": "Bundle", "type": "transaction", "entry": entries}
    )
    assert response.status_code == 200, response.text
    return fhir


async def test_composite_semantics(seeded: httpx.AsyncClient) -> None:
    strict = {"Prefer": "handling=strict"}
    for name, query, expected in CASES:
        response = await seeded.get("/Observation", params=tuple(query), headers=strict)
        assert response.status_code == 200, (name, response.text)
        found = sorted(e["resource"]["id"] for e in response.json().get("entry", []))
        assert found == expected, name


async def test_composite_needs_every_component(seeded: httpx.AsyncClient) -> None:
    response = await seeded.get("/Observation", params={CCVQ: "8480-6"})
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


async def test_composites_are_claimed_in_the_capability_statement(
    fhir: httpx.AsyncClient,
) -> None:
    statement = (await fhir.get("/metadata")).json()
    observation = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Observation")
    params = {p["name"]: p["type"] for p in observation["searchParam"]}
    assert params[CCVQ] == params["code-value-concept"] == "composite"
    document = next(r for r in statement["rest"][0]["resource"] if r["type"] == "DocumentReference")
    # its first component is a reference: not answered, so not claimed
    assert "relationship" not in {p["name"] for p in document["searchParam"]}
