"""Searches whose driving rows are many (docs/search.md, "PostgreSQL plans"), on both engines.

A chain probing a code on more than ``CHAIN_CAP`` Observations stops counting at
the estimate's cap; ``_has`` with such a code walks the Patients in id order; a
``:text`` word pages from its index rows. Each must still give the right page in
id order and the right total: exact with ``_total=accurate`` and up to the cap,
more than the cap otherwise.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from polyfhir_core.contracts.primary_store import BundleKind, EntryRequest, Method
from polyfhir_core.search import parse_search
from polyfhir_core.tenancy import TenantContext
from polyfhir_primary.search.sql.totals import CHAIN_CAP, ESTIMATE_CAP

pytestmark = pytest.mark.integration

LOINC = "http://loinc.org"
BROAD, NARROW = "broad-1", "narrow-1"  # codes on more / fewer Observations than CHAIN_CAP
PATIENTS = 180
BROAD_OBSERVATIONS = CHAIN_CAP + 50
NARROW_OBSERVATIONS = 300


def _patient(n: int) -> str:
    return f"p{n:03d}"


def _has_broad(n: int) -> bool:  # one Patient in six has no Observation of BROAD
    return n % 6 != 5


def _female(n: int) -> bool:
    return n % 2 == 0


def _observation(oid: str, code: str, patient: int) -> EntryRequest:
    body = {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": f"Patient/{_patient(patient)}"},
    }
    return EntryRequest(Method.PUT, f"Observation/{oid}", body)


def _entries() -> tuple[list[EntryRequest], dict[str, list[str]]]:
    entries = [
        EntryRequest(
            Method.PUT,
            f"Patient/{_patient(n)}",
            {
                "resourceType": "Patient",
                "id": _patient(n),
                "gender": "female" if _female(n) else "male",
            },
        )
        for n in range(PATIENTS)
    ]
    with_broad = [n for n in range(PATIENTS) if _has_broad(n)]
    expected: dict[str, list[str]] = {"chain broad": [], "chain narrow": []}
    for i in range(BROAD_OBSERVATIONS):
        n = with_broad[i % len(with_broad)]
        entries.append(_observation(f"b{i:04d}", BROAD, n))
        if _female(n):
            expected["chain broad"].append(f"b{i:04d}")
    for i in range(NARROW_OBSERVATIONS):
        n = i % PATIENTS
        entries.append(_observation(f"n{i:04d}", NARROW, n))
        if _female(n):
            expected["chain narrow"].append(f"n{i:04d}")
    expected["has broad"] = [_patient(n) for n in with_broad]
    for i, text in enumerate(["Stable angina pectoris", "Asthma", "Unstable angina"] * 10):
        cid = f"c{i:02d}"
        body = {
            "resourceType": "Condition",
            "id": cid,
            "code": {"text": text},
            "subject": {"reference": f"Patient/{_patient(i)}"},
        }
        entries.append(EntryRequest(Method.PUT, f"Condition/{cid}", body))
        if "angina" in text:
            expected.setdefault("text", []).append(cid)
    return entries, expected


@pytest.fixture(scope="module")
async def seeded(store_app: Any) -> tuple[Any, TenantContext, dict[str, list[str]]]:
    ctx = TenantContext.of(f"t{uuid.uuid4().hex[:10]}")
    entries, expected = _entries()
    for start in range(0, len(entries), 250):
        await store_app.service.process(ctx, BundleKind.TRANSACTION, entries[start : start + 250])
    return store_app, ctx, expected


QUERIES = {
    "chain broad": ("Observation", [("patient.gender", "female"), ("code", f"{LOINC}|{BROAD}")]),
    "chain narrow": ("Observation", [("patient.gender", "female"), ("code", f"{LOINC}|{NARROW}")]),
    "has broad": ("Patient", [("_has:Observation:patient:code", f"{LOINC}|{BROAD}")]),
    "text": ("Condition", [("code:text", "angina")]),
}


@pytest.mark.parametrize("name", sorted(QUERIES))
@pytest.mark.parametrize("total", ["accurate", "estimate"])
@pytest.mark.parametrize("offset", [0, 20, 80])
async def test_pages_are_the_matches_in_id_order_with_their_total(
    seeded: tuple[Any, TenantContext, dict[str, list[str]]], name: str, total: str, offset: int
) -> None:
    app, ctx, expected = seeded
    rtype, params = QUERIES[name]
    matches = sorted(expected[name])
    query = parse_search(
        rtype, [*params, ("_count", "20"), ("_offset", str(offset)), ("_total", total)]
    )
    page = await app.service.search(ctx, query)
    assert [r.key.id for r in page.resources] == matches[offset : offset + 20]
    if total == "accurate" or len(matches) <= ESTIMATE_CAP:
        assert page.total == len(matches)
    else:
        assert page.total is not None and page.total > ESTIMATE_CAP


async def test_a_chain_on_a_code_of_fewer_observations_than_the_chain_cap_counts_exactly(
    seeded: tuple[Any, TenantContext, dict[str, list[str]]],
) -> None:
    """Its 150 matches are beyond the estimate's cap, yet counted in the one pass."""
    app, ctx, expected = seeded
    rtype, params = QUERIES["chain narrow"]
    assert ESTIMATE_CAP < len(expected["chain narrow"]) <= CHAIN_CAP
    page = await app.service.search(ctx, parse_search(rtype, [*params, ("_total", "estimate")]))
    assert page.total == len(expected["chain narrow"])
