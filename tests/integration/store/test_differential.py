"""Differential test: SQLite and PostgreSQL answer generated searches identically.

Both backends load the same synthetic patients (carebundle, deterministic ids);
queries are generated from values found in the data (seeded), so they hit real
rows: strings, tokens, dates and quantities with every prefix, chains, _has,
includes and sorts. Any difference in ids, order or totals is a bug in one
backend's SQL.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from polyfhir_core.search import parse_search
from polyfhir_core.tenancy import TenantContext
from polyfhir_gateway.api.bundles import parse_bundle
from polyfhir_primary.bootstrap import PrimaryStoreApp, bootstrap
from polyfhir_primary.settings import PrimarySettings
from polyfhir_testing.datasets import patient_bundles

pytestmark = pytest.mark.integration

PATIENTS = 16
PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")


def _deterministic(bundle: dict[str, Any]) -> dict[str, Any]:
    """POSTs -> PUTs with ids from the fullUrl (shared practitioners by identifier)."""
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Practitioner":
            rid = "practitioner-" + resource["identifier"][0]["value"]
        else:
            rid = entry["fullUrl"].removeprefix("urn:uuid:")
        resource["id"] = rid
        entry["request"] = {"method": "PUT", "url": f"{resource['resourceType']}/{rid}"}
    return bundle


@pytest.fixture(scope="module")
async def stores(
    sqlite_url: str, postgres_url: str
) -> AsyncIterator[tuple[Any, Any, TenantContext]]:
    ctx = TenantContext.of(f"diff{uuid.uuid4().hex[:8]}")
    apps: list[PrimaryStoreApp] = []
    for url in (sqlite_url, postgres_url):
        app = await bootstrap(PrimarySettings(primary_url=url))
        apps.append(app)
        for bundle in patient_bundles(PATIENTS, seed=11, shared_practitioners=4):
            kind, entries = parse_bundle(_deterministic(bundle), 1000)
            responses = await app.service.process(ctx, kind, entries)
            assert all(r.status in (200, 201) for r in responses)
    try:
        yield apps[0].service, apps[1].service, ctx
    finally:
        for app in apps:
            await app.close()


async def _all(service: Any, ctx: TenantContext, rtype: str) -> list[dict[str, Any]]:
    page = await service.search(ctx, parse_search(rtype, [("_count", "1000")]))
    return [r.content for r in page.resources]


def _queries(
    data: dict[str, list[dict[str, Any]]], rng: random.Random
) -> list[tuple[str, list[tuple[str, str]]]]:
    patients, observations = data["Patient"], data["Observation"]
    queries: list[tuple[str, list[tuple[str, str]]]] = []
    for _ in range(20):
        p = rng.choice(patients)
        family = p["name"][0]["family"]
        queries.append(("Patient", [("family", family[: rng.randint(1, len(family))])]))
        queries.append(
            (
                "Patient",
                [("birthdate", rng.choice(PREFIXES) + p["birthDate"][: rng.choice((4, 7, 10))])],
            )
        )
        queries.append(
            ("Patient", [("gender", p["gender"]), ("_sort", "-birthdate,family"), ("_count", "7")])
        )
    for _ in range(40):
        o = rng.choice(observations)
        coding = o["code"]["coding"][0]
        code = f"{coding['system']}|{coding['code']}"
        queries.append(("Observation", [("code", code)]))
        if "valueQuantity" in o:
            value = o["valueQuantity"]["value"]
            shown = f"{value:.{rng.choice((0, 1, 2))}f}"
            queries.append(
                ("Observation", [("code", code), ("value-quantity", rng.choice(PREFIXES) + shown)])
            )
        if "effectiveDateTime" in o:
            date = o["effectiveDateTime"][: rng.choice((4, 7, 10))]
            queries.append(
                (
                    "Observation",
                    [("date", rng.choice(PREFIXES) + date), ("_sort", "date"), ("_count", "15")],
                )
            )
        subject = o["subject"]["reference"].split("/")[1]
        queries.append(
            ("Observation", [("subject", subject), ("code:text", coding.get("display", "x")[:4])])
        )
        queries.append(
            (
                "Observation",
                [("subject:Patient.gender", rng.choice(("female", "male"))), ("code", code)],
            )
        )
        queries.append(("Patient", [("_has:Observation:patient:code", code)]))
        queries.append(
            ("Observation", [("code", code), ("_include", "Observation:subject"), ("_count", "5")])
        )
    queries.append(("Observation", [("subject.general-practitioner.name", "shared1")]))
    queries.append(("MedicationRequest", [("_revinclude", "Provenance:target"), ("_sort", "_id")]))
    return queries


async def test_sqlite_and_postgresql_agree(stores: tuple[Any, Any, TenantContext]) -> None:
    sqlite, postgres, ctx = stores
    data = {t: await _all(sqlite, ctx, t) for t in ("Patient", "Observation")}
    assert len(data["Patient"]) == PATIENTS
    queries = _queries(data, random.Random(20261122))
    nonempty = 0
    for rtype, params in queries:
        query = parse_search(rtype, [*params, ("_total", "accurate")])
        a, b = await sqlite.search(ctx, query), await postgres.search(ctx, query)
        ids_a = [r.id for r in a.resources]
        ids_b = [r.id for r in b.resources]
        if any(k == "_sort" for k, _ in params):
            assert ids_a == ids_b, (rtype, params)
        else:
            assert sorted(ids_a) == sorted(ids_b), (rtype, params)
        assert a.total == b.total, (rtype, params)
        assert sorted(r.id for r in a.included) == sorted(r.id for r in b.included), (rtype, params)
        assert a.ignored == b.ignored == [], (rtype, params)
        nonempty += bool(ids_a)
    assert nonempty > len(queries) // 2  # the generated queries really hit data
