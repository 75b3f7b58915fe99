"""The graph in the whole stack: the graph-indexer consumes the change stream into
FalkorDB (its own consumer group) and the gateway walks chains and _has there."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from polyfhir_engines.local_stack import LocalStack
from stack.conftest import fhir_client, route
from support import until

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


def test_an_idle_search_consumer_leaves_the_index_empty_and_the_backend_healthy(
    fresh_stack: Callable[..., LocalStack], tenant: str, marker: str
) -> None:
    """``LocalStack(search_consumer=False)`` (benchmarks/graph.py --idle-search): the graph
    consumes, the search-indexer does not, and the gateway still sees a healthy search
    backend in the same composite configuration."""
    stack = fresh_stack("asynchronous", graph=True, search_consumer=False)
    with fhir_client(stack, tenant) as c:
        pat = c.post("/Patient", json={"resourceType": "Patient", "name": [{"family": marker}]})
        assert pat.status_code == 201, pat.text
        observation = {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": marker},
            "subject": {"reference": f"Patient/{pat.json()['id']}"},
        }
        assert c.post("/Observation", json=observation).status_code == 201

        def walked_on_the_graph() -> list[str] | None:
            found = c.get("/Patient", params={"_has:Observation:subject:status": "final"})
            hits = [e["resource"]["id"] for e in found.json().get("entry", [])]
            return hits if route(found) == ["graph", "primary"] and hits else None

        hits = until(walked_on_the_graph, within=60, what="the graph walking the _has")
    assert hits == [pat.json()["id"]]
    listed = httpx.get(f"{stack.gateway.url}/admin/backends", timeout=30.0).json()
    states = {b["id"]: b.get("state") for b in listed["backends"]}
    assert states["search"] == "healthy", listed
    assert states["graph"] == "healthy", listed
    indexer_metrics = httpx.get(f"{stack.indexer.url}/metrics", timeout=10).text
    applied = [
        float(line.rsplit(" ", 1)[1])
        for line in indexer_metrics.splitlines()
        if line.startswith(("polyfhir_search_events_total", "polyfhir_search_applied_position"))
    ]
    assert not any(applied), applied  # the search-indexer applied nothing
