"""Terminology in the whole stack: the terminology-indexer consumes the change stream into
its SQLite file (its own consumer group) and answers the ``TerminologyIndex`` contract for
what was written through the gateway."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from fakes.terminology_data import DISORDERS, disorders, is_a, value_set
from polyfhir_core.contracts.terminology import (
    TERMINOLOGY_INDEX,
    ExpandRequest,
    LookupRequest,
)
from polyfhir_core.tenancy import TenantContext
from polyfhir_engines.local_stack import LocalStack
from polyfhir_servicekit.contract_client import contract_client
from stack.conftest import fhir_client

pytestmark = pytest.mark.integration


async def test_a_code_system_written_through_the_gateway_is_looked_up_after_a_synchronous_write(
    fresh_stack: Callable[..., LocalStack], tenant: str
) -> None:
    stack = fresh_stack("synchronous", terminology=True)
    assert stack.terminology_indexer is not None
    with fhir_client(stack, tenant) as fhir:
        for body in (disorders(), value_set("http://x/stack-vs", [is_a("VIR")])):
            created = fhir.post(f"/{body['resourceType']}", json=body)
            assert created.status_code == 201, created.text
            # synchronous: every secondary (the terminology-indexer too) applied it in time
            assert "x-polyfhir-outcome" not in created.headers, stack.logs()
    ctx = TenantContext.of(tenant)
    async with httpx.AsyncClient(timeout=30.0) as http:
        index = contract_client(TERMINOLOGY_INDEX, stack.terminology_indexer.url, http)
        looked_up = await index.lookup(ctx, LookupRequest(DISORDERS, "COVID"))
        expansion = await index.expand(ctx, ExpandRequest(value_set_url="http://x/stack-vs"))
    assert looked_up.display == "Coronavirus disease"
    assert {e.code for e in expansion.contains} == {"VIR", "FLU", "COVID"}


def _condition(code: str) -> dict[str, object]:
    return {
        "resourceType": "Condition",
        "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": DISORDERS, "code": code}]},
    }


def test_the_gateway_answers_operations_and_modifiers_through_the_terminology_indexer(
    fresh_stack: Callable[..., LocalStack], tenant: str
) -> None:
    stack = fresh_stack("synchronous", terminology=True)
    with fhir_client(stack, tenant) as fhir:
        for body in (
            disorders(),
            value_set("http://x/viral", [is_a("VIR")]),
            _condition("COVID"),
            _condition("BAC"),
            _condition("TUM"),
        ):
            created = fhir.post(f"/{body['resourceType']}", json=body)
            assert created.status_code == 201, created.text

        looked_up = fhir.get("/CodeSystem/$lookup", params={"system": DISORDERS, "code": "VIR"})
        assert looked_up.status_code == 200, looked_up.text
        assert looked_up.headers["x-polyfhir-route"] == "terminology"
        display = [p for p in looked_up.json()["parameter"] if p["name"] == "display"]
        assert display == [{"name": "display", "valueString": "Viral infection"}]

        expanded = fhir.get("/ValueSet/$expand", params={"url": "http://x/viral"})
        assert expanded.status_code == 200, expanded.text
        codes = {c["code"] for c in expanded.json()["expansion"]["contains"]}
        assert codes == {"VIR", "FLU", "COVID"}

        below = fhir.get("/Condition", params={"code:below": f"{DISORDERS}|INF"})
        assert below.status_code == 200, below.text
        assert below.headers["x-polyfhir-route"] == "terminology,primary", below.headers
        found = {e["resource"]["code"]["coding"][0]["code"] for e in below.json()["entry"]}
        assert found == {"COVID", "BAC"}

        in_set = fhir.get("/Condition", params={"code:in": "http://x/viral"})
        assert in_set.status_code == 200, in_set.text
        assert {e["resource"]["code"]["coding"][0]["code"] for e in in_set.json()["entry"]} == {
            "COVID"
        }
