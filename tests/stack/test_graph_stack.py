"""The graph in the whole stack: the graph-indexer consumes the change stream into
FalkorDB (its own consumer group) and the gateway walks chains and _has there."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from polyfhir_engines.local_stack import LocalStack
from stack.conftest import fhir_client, route

pytestmark = pytest.mark.integration


def test_chains_and_has_are_walked_on_the_graph_after_synchronous_writes(
    fresh_stack: Callable[..., LocalStack], tenant: str
) -> None:
    stack = fresh_stack("synchronous", graph=True)
    with fhir_client(stack, tenant) as c:

        def create(body: dict[str, Any]) -> str:
            created = c.post(f"/{body['resourceType']}", json=body)
            assert created.status_code == 201, created.text
            assert "issue" not in (created.json().get("meta") or {})
            return str(created.json()["id"])

        org = create({"resourceType": "Organization", "name": "Graphwick Clinic"})
        pat = create(
            {
                "resourceType": "Patient",
                "managingOrganization": {"reference": f"Organization/{org}"},
            }
        )
        obs = create(
            {
                "resourceType": "Observation",
                "status": "final",
                "code": {"text": "weight"},
                "subject": {"reference": f"Patient/{pat}"},
            }
        )
        chain = c.get("/Observation", params={"subject:Patient.organization.name": "Graphwick"})
        has = c.get(
            "/Organization",
            params={"_has:Patient:organization:_has:Observation:subject:status": "final"},
        )
    assert chain.status_code == 200, chain.text
    assert [e["resource"]["id"] for e in chain.json().get("entry", [])] == [obs]
    assert route(chain) == ["graph", "primary"], stack.logs()
    assert [e["resource"]["id"] for e in has.json().get("entry", [])] == [org]
    assert route(has) == ["graph", "primary"]
