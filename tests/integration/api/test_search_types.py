"""Search conformance: every parameter type, modifier and prefix, on a fixed data set.

The expected ids were worked out by hand from search.html; each assertion
names the rule it checks. Runs over every backend and topology.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration

V2 = "http://terminology.hl7.org/CodeSystem/v2-0203"
MRN = "http://hosp/mrn"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"

PATIENTS: list[dict[str, Any]] = [
    {
        "resourceType": "Patient",
        "id": "p1",
        "active": True,
        "gender": "female",
        "birthDate": "1970",
        "name": [{"family": "Müller", "given": ["Anna"]}],
        "identifier": [
            {"system": MRN, "value": "A1", "type": {"coding": [{"system": V2, "code": "MR"}]}}
        ],
        "telecom": [{"system": "phone", "value": "555-1000"}],
        "meta": {
            "tag": [{"system": "http://tags", "code": "vip"}],
            "profile": ["http://example.org/StructureDefinition/pat"],
        },
    },
    {
        "resourceType": "Patient",
        "id": "p2",
        "active": False,
        "gender": "male",
        "birthDate": "1970-06-15",
        "name": [{"family": "Muller", "given": ["Bob"]}],
        "identifier": [{"system": MRN, "value": "B2"}],
    },
    {
        "resourceType": "Patient",
        "id": "p3",
        "gender": "other",
        "birthDate": "1985-02-01",
        "name": [{"family": "Comma,Name", "given": ["Anne"]}],
        "meta": {"source": "http://feed/a#1"},
    },
    {"resourceType": "Patient", "id": "p4", "gender": "unknown", "birthDate": "2001"},
]


def _obs(oid: str, code: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": oid, "status": "final", "code": code, **extra}


SYSTOLIC = {"coding": [{"system": LOINC, "code": "8480-6", "display": "Systolic blood pressure"}]}
OBSERVATIONS: list[dict[str, Any]] = [
    _obs(
        "o1",
        SYSTOLIC,
        subject={"reference": "Patient/p1"},
        effectiveDateTime="2020-01-01T10:00:00Z",
        valueQuantity={"value": 120, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"},
        meta={"tag": [{"system": "http://tags", "code": "vip"}]},
    ),
    _obs(
        "o2",
        SYSTOLIC,
        subject={"reference": "Patient/p2"},
        valueQuantity={"value": 100.4, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"},
    ),
    _obs(
        "o3",
        {
            "text": "Body weight",
            "coding": [{"system": LOINC, "code": "29463-7", "display": "Body weight"}],
        },
        valueQuantity={"value": 70, "unit": "kg", "system": UCUM, "code": "kg"},
    ),
    _obs("o4", SYSTOLIC, valueString="n/a", subject={"identifier": {"system": MRN, "value": "Z9"}}),
]
OTHERS: list[dict[str, Any]] = [
    {
        "resourceType": "RiskAssessment",
        "id": "r1",
        "status": "final",
        "subject": {"reference": "Patient/p1"},
        "prediction": [{"probabilityDecimal": 0.02}],
    },
    {
        "resourceType": "RiskAssessment",
        "id": "r2",
        "status": "final",
        "subject": {"reference": "Patient/p2"},
        "prediction": [{"probabilityDecimal": 0.5}],
    },
    {
        "resourceType": "ValueSet",
        "id": "vs1",
        "status": "active",
        "url": "http://example.org/fhir/ValueSet/a",
    },
    {
        "resourceType": "ValueSet",
        "id": "vs2",
        "status": "active",
        "url": "http://example.org/fhir/ValueSet/a/b",
    },
    {"resourceType": "ValueSet", "id": "vs3", "status": "active", "url": "http://other.org/vs"},
]


@pytest.fixture
async def seeded(fhir: httpx.AsyncClient) -> httpx.AsyncClient:
    entries = [
        {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
        for r in [*PATIENTS, *OBSERVATIONS, *OTHERS]
    ]
    response = await fhir.post(
        "", json={"resourceType": "Bundle", "type": "transaction", "entry": entries}
    )
    assert response.status_code == 200, response.text
    return fhir


async def ids(
    fhir: httpx.AsyncClient, path: str, query: Sequence[tuple[str, str]] | Mapping[str, str]
) -> list[str]:
    """Matched ids in the order the server returned them."""
    response = await fhir.get(path, params=query if isinstance(query, Mapping) else tuple(query))
    assert response.status_code == 200, response.text
    bundle = response.json()
    return [e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]


CASES: list[tuple[str, str, list[tuple[str, str]], list[str]]] = [
    # string: case- and accent-insensitive prefix by default
    ("string-default", "Patient", [("name", "muller")], ["p1", "p2"]),
    ("string-prefix-upper", "Patient", [("name", "MUL")], ["p1", "p2"]),
    ("string-given", "Patient", [("given", "ann")], ["p1", "p3"]),
    ("string-exact", "Patient", [("name:exact", "Müller")], ["p1"]),
    ("string-exact-is-case-sensitive", "Patient", [("name:exact", "müller")], []),
    ("string-contains", "Patient", [("family:contains", "ULL")], ["p1", "p2"]),
    ("string-escaped-comma", "Patient", [("family", "comma\\,name")], ["p3"]),
    ("string-or", "Patient", [("family", "comma,zzz")], ["p3"]),
    ("string-and", "Patient", [("name", "anna"), ("name", "muller")], ["p1"]),
    ("string-missing", "Patient", [("name:missing", "true")], ["p4"]),
    ("string-not-missing", "Patient", [("name:missing", "false")], ["p1", "p2", "p3"]),
    # token
    ("token-or", "Patient", [("gender", "female,male")], ["p1", "p2"]),
    ("token-not", "Patient", [("gender:not", "male")], ["p1", "p3", "p4"]),
    ("token-boolean", "Patient", [("active", "false")], ["p2"]),
    ("token-system-code", "Patient", [("identifier", f"{MRN}|A1")], ["p1"]),
    ("token-code-any-system", "Patient", [("identifier", "A1")], ["p1"]),
    ("token-system-only", "Patient", [("identifier", f"{MRN}|")], ["p1", "p2"]),
    ("token-no-system", "Patient", [("identifier", "|A1")], []),
    ("token-of-type", "Patient", [("identifier:of-type", f"{V2}|MR|A1")], ["p1"]),
    ("token-of-type-other-value", "Patient", [("identifier:of-type", f"{V2}|MR|B2")], []),
    ("token-contactpoint", "Patient", [("phone", "555-1000")], ["p1"]),
    ("token-text", "Observation", [("code:text", "systolic")], ["o1", "o2", "o4"]),
    ("token-text-concept", "Observation", [("code:text", "body")], ["o3"]),
    # :text matches words anywhere in the display/text, each by prefix, in any order
    ("token-text-inner-word", "Observation", [("code:text", "pressure")], ["o1", "o2", "o4"]),
    ("token-text-inner-prefix", "Observation", [("code:text", "PRESS")], ["o1", "o2", "o4"]),
    ("token-text-words", "Observation", [("code:text", "blood systolic")], ["o1", "o2", "o4"]),
    ("token-text-word-missing", "Observation", [("code:text", "blood weight")], []),
    ("token-text-mid-word", "Observation", [("code:text", "ystolic")], []),
    ("token-text-or", "Observation", [("code:text", "weight,pressure")], ["o1", "o2", "o3", "o4"]),
    ("token-coding", "Observation", [("code", f"{LOINC}|8480-6")], ["o1", "o2", "o4"]),
    ("meta-tag", "Patient", [("_tag", "http://tags|vip")], ["p1"]),
    (
        "meta-profile",
        "Patient",
        [("_profile", "http://example.org/StructureDefinition/pat")],
        ["p1"],
    ),
    ("meta-source", "Patient", [("_source", "http://feed/a#1")], ["p3"]),
    # date: both sides are ranges with their precision
    ("date-eq-year", "Patient", [("birthdate", "1970")], ["p1", "p2"]),
    ("date-eq-month", "Patient", [("birthdate", "1970-06")], ["p2"]),
    ("date-ne", "Patient", [("birthdate", "ne1970")], ["p3", "p4"]),
    ("date-ge", "Patient", [("birthdate", "ge1985")], ["p3", "p4"]),
    ("date-lt", "Patient", [("birthdate", "lt1980")], ["p1", "p2"]),
    ("date-sa", "Patient", [("birthdate", "sa1984")], ["p3", "p4"]),
    ("date-eb", "Patient", [("birthdate", "eb1971")], ["p1", "p2"]),
    # ge: p1's year 1970 reaches above March 1970, so it matches too
    (
        "date-and-range",
        "Patient",
        [("birthdate", "ge1970-03"), ("birthdate", "lt1990")],
        ["p1", "p2", "p3"],
    ),
    ("date-gt-inside-year", "Patient", [("birthdate", "gt1970-12-31")], ["p3", "p4"]),
    ("date-datetime", "Observation", [("date", "2020-01-01")], ["o1"]),
    # quantity: value ± half the last digit, then units
    ("quantity-eq-precision", "Observation", [("value-quantity", "120")], ["o1"]),
    ("quantity-eq-range", "Observation", [("value-quantity", "100")], ["o2"]),
    ("quantity-eq-finer", "Observation", [("value-quantity", "100.0")], []),
    ("quantity-gt", "Observation", [("value-quantity", "gt110")], ["o1"]),
    ("quantity-units", "Observation", [("value-quantity", f"lt100|{UCUM}|kg")], ["o3"]),
    ("quantity-code-only", "Observation", [("value-quantity", "le200||mm[Hg]")], ["o1", "o2"]),
    ("quantity-ap", "Observation", [("value-quantity", "ap100")], ["o2"]),
    ("quantity-missing", "Observation", [("value-quantity:missing", "true")], ["o4"]),
    # number
    ("number-eq", "RiskAssessment", [("probability", "0.02")], ["r1"]),
    ("number-gt", "RiskAssessment", [("probability", "gt0.01")], ["r1", "r2"]),
    ("number-lt", "RiskAssessment", [("probability", "lt0.1")], ["r1"]),
    ("number-ge", "RiskAssessment", [("probability", "ge0.5")], ["r2"]),
    # reference
    ("reference-identifier", "Observation", [("subject:identifier", f"{MRN}|Z9")], ["o4"]),
    ("reference-missing", "Observation", [("subject:missing", "true")], ["o3"]),
    # uri
    ("uri-exact", "ValueSet", [("url", "http://example.org/fhir/ValueSet/a")], ["vs1"]),
    ("uri-below", "ValueSet", [("url:below", "http://example.org/fhir")], ["vs1", "vs2"]),
    (
        "uri-above",
        "ValueSet",
        [("url:above", "http://example.org/fhir/ValueSet/a/b/c")],
        ["vs1", "vs2"],
    ),
]


@pytest.mark.parametrize(
    ("rtype", "query", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
async def test_search_semantics(
    seeded: httpx.AsyncClient, rtype: str, query: list[tuple[str, str]], expected: list[str]
) -> None:
    assert sorted(await ids(seeded, f"/{rtype}", query)) == expected


async def test_sort_over_several_fields(seeded: httpx.AsyncClient) -> None:
    # family ascending (Müller and Muller tie; no family sorts last), then birthdate descending
    assert await ids(seeded, "/Patient", {"_sort": "family,-birthdate"}) == ["p3", "p2", "p1", "p4"]
    assert await ids(seeded, "/Patient", {"_sort": "-birthdate"}) == ["p4", "p3", "p2", "p1"]


async def test_system_search_with_type(seeded: httpx.AsyncClient) -> None:
    found = await ids(seeded, "/", {"_type": "Patient,Observation", "_tag": "http://tags|vip"})
    assert sorted(found) == ["o1", "p1"]


async def test_unsupported_modifier_is_ignored_or_rejected(seeded: httpx.AsyncClient) -> None:
    lenient = await seeded.get("/Patient", params={"gender:exact": "male", "family": "muller"})
    assert lenient.status_code == 200
    self_link = next(link["url"] for link in lenient.json()["link"] if link["relation"] == "self")
    assert "gender" not in self_link and "family=muller" in self_link
    strict = await seeded.get(
        "/Patient", params={"gender:exact": "male"}, headers={"Prefer": "handling=strict"}
    )
    assert strict.status_code == 400
    assert strict.json()["resourceType"] == "OperationOutcome"


async def test_capability_statement_lists_parameters_with_modifiers(
    fhir: httpx.AsyncClient,
) -> None:
    statement = (await fhir.get("/metadata")).json()
    patient = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Patient")
    params = {p["name"]: p for p in patient["searchParam"]}
    assert params["family"]["type"] == "string"
    assert ":exact" in params["family"]["documentation"]
    assert ":of-type" in params["identifier"]["documentation"]
    assert ":identifier" in params["general-practitioner"]["documentation"]
    assert {"_tag", "_profile", "_text", "birthdate"} <= set(params)


async def test_summary_and_elements_subset_the_resources(seeded: httpx.AsyncClient) -> None:
    summary = (await seeded.get("/Observation", params={"_id": "o1", "_summary": "true"})).json()
    [obs] = [e["resource"] for e in summary["entry"]]
    assert {"code", "status", "valueQuantity", "subject"} <= set(obs)
    assert "SUBSETTED" in {t["code"] for t in obs["meta"]["tag"]}
    elements = (await seeded.get("/Patient", params={"_id": "p1", "_elements": "gender"})).json()
    [patient] = [e["resource"] for e in elements["entry"]]
    assert set(patient) == {"resourceType", "id", "meta", "gender"}
    self_link = next(link["url"] for link in elements["link"] if link["relation"] == "self")
    assert "_elements=gender" in self_link
    count = (await seeded.get("/Patient", params={"_summary": "count"})).json()
    assert count["total"] == 4 and "entry" not in count
    text = (await seeded.get("/Patient", params={"_id": "p1", "_summary": "text"})).json()
    assert set(text["entry"][0]["resource"]) <= {"resourceType", "id", "meta", "text"}
    # the stored resource is untouched
    full = (await seeded.get("/Patient/p1")).json()
    assert "name" in full and "SUBSETTED" not in {t["code"] for t in full["meta"].get("tag", [])}


async def test_compartment_search(seeded: httpx.AsyncClient) -> None:
    assert sorted(await ids(seeded, "/Patient/p1/Observation", {})) == ["o1"]
    assert sorted(await ids(seeded, "/Patient/p2/RiskAssessment", {})) == ["r2"]
    assert await ids(seeded, "/Patient/p1/Observation", {"code": "http://loinc.org|29463-7"}) == []
    assert await ids(seeded, "/Patient/p1/Patient", {}) == ["p1"]
    posted = await seeded.post(
        "/Patient/p2/Observation/_search",
        content="code=8480-6",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert [e["resource"]["id"] for e in posted.json()["entry"]] == ["o2"]
    not_in = await seeded.get("/Patient/p1/ValueSet")
    assert not_in.status_code == 400
    assert not_in.json()["resourceType"] == "OperationOutcome"
    assert (await seeded.get("/Observation/o1/Patient")).status_code == 404
