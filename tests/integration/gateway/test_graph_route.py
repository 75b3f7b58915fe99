"""Chains and _has through the graph: the gateway over the in-process primary and the real
graph-indexer service (FalkorDB child process, the GraphIndex contract over HTTP).

The graph is fed with the change events of what the test wrote, exactly as the
consumer would apply them. Every answer is the one the primary alone gives; what
changes is who walked (``X-Polyfhir-Route``) and why not (``X-Polyfhir-Fallback``).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from fakes.events import delivery
from fakes.search_index import FakeSearchIndex
from integration.gateway.harness import SEARCH, Positioned, ids, route
from polyfhir_bus.consumer import Batch
from polyfhir_bus.events import ChangeKind, ResourceChanged
from polyfhir_bus.indexing.freshness import Freshness
from polyfhir_core.config import parse_config
from polyfhir_core.contracts.graph_index import GRAPH_INDEX
from polyfhir_core.contracts.primary_store import TenantPositions
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_core.resources import ResourceKey
from polyfhir_core.tenancy import TenantContext
from polyfhir_engines.falkordb import LocalFalkorDB
from polyfhir_engines.processes import free_port
from polyfhir_gateway.app import create_app
from polyfhir_gateway.pipeline import QueryPipeline
from polyfhir_gateway.settings import GatewaySettings
from polyfhir_graph.adapters.falkordb import FalkorGraph
from polyfhir_graph.entrypoints.http import create_app as create_graph_app
from polyfhir_graph.service_layer.graph_service import GraphService
from polyfhir_graph.service_layer.indexer import Indexer
from polyfhir_servicekit.contract_client import contract_client
from polyfhir_testing.pytest_plugin import falkordb_server
from support import eventually

__all__ = ["falkordb_server"]
pytestmark = pytest.mark.integration

PRIMARY = {"id": "primary", "role": "primary", "kind": "sqlite", "url": "sqlite:///x.db"}
WALKS = {"name": "walks", "match": {"features": ["chain", "has"]}, "target": "graph"}
FRESH = TenantPositions({}, pending=0)


def graph_backend(service_url: str) -> dict[str, Any]:
    return {
        "id": "graph",
        "role": "graph",
        "kind": "falkordb",
        "url": "redis://127.0.0.1:6379",
        "options": {"service_url": service_url},
    }


@dataclass
class Stack:
    primary: Any
    indexer: Indexer
    http: httpx.AsyncClient  # the graph-indexer's internal API
    tenant: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:12]}")
    events: list[ResourceChanged] = field(default_factory=list)

    def gateway(
        self,
        positions: TenantPositions = FRESH,
        search: FakeSearchIndex | None = None,
        *,
        walks_on_graph: bool = True,
        **top: Any,
    ) -> httpx.AsyncClient:
        """``walks_on_graph``: a routing rule sends chains and ``_has`` to the graph (else
        the cost model decides, and at this size it prices the primary lower)."""
        graph = contract_client(GRAPH_INDEX, "http://graph", self.http)
        backends = [PRIMARY, graph_backend("http://graph"), *([SEARCH] if search else [])]
        if walks_on_graph:
            top.setdefault("routing", [WALKS])
        config = parse_config({"backends": backends, **top})
        indexes = {"search": search} if search else {}
        pipeline = QueryPipeline(
            Positioned(self.primary, positions), config, indexes, graphs={"graph": graph}
        )
        return self._client(pipeline)

    def primary_only(self) -> httpx.AsyncClient:
        """No secondary configured: the primary's joins answer every chain and ``_has``."""
        config = parse_config({"backends": [PRIMARY]})
        return self._client(QueryPipeline(Positioned(self.primary, FRESH), config, {}))

    def gateway_with_graph_down(self) -> httpx.AsyncClient:
        down = f"http://127.0.0.1:{free_port()}"
        http = httpx.AsyncClient()
        graph = contract_client(GRAPH_INDEX, down, http, timeout=2.0)
        config = parse_config({"backends": [PRIMARY, graph_backend(down)], "routing": [WALKS]})
        pipeline = QueryPipeline(
            Positioned(self.primary, FRESH), config, {}, graphs={"graph": graph}
        )
        return self._client(pipeline)

    def _client(self, pipeline: QueryPipeline) -> httpx.AsyncClient:
        app = create_app(self.primary, GatewaySettings(), pipeline=pipeline)
        return httpx.AsyncClient(
            base_url="http://testserver",
            transport=httpx.ASGITransport(app=app),
            headers={"accept": "application/fhir+json", "X-Tenant-ID": self.tenant},
        )

    async def create(self, body: dict[str, Any]) -> str:
        async with self.gateway() as c:
            created = await c.post(f"/fhir/{body['resourceType']}", json=body)
        assert created.status_code == 201, created.text
        resource = created.json()
        self.events.append(
            ResourceChanged(
                self.tenant,
                resource["resourceType"],
                resource["id"],
                int(resource["meta"]["versionId"]),
                ChangeKind.CREATED,
                datetime.fromisoformat(resource["meta"]["lastUpdated"]),
                resource,
            )
        )
        return str(resource["id"])

    async def sync_graph(self) -> None:
        """What the graph-indexer's consumer does with the change events."""
        assert await self.indexer(Batch([delivery(e) for e in self.events], {})) == []


@pytest.fixture
async def stack(primary: Any, falkordb_server: LocalFalkorDB) -> AsyncIterator[Stack]:
    store = FalkorGraph(falkordb_server.url, f"gw-{uuid.uuid4().hex[:10]}")
    await store.ensure_schema()
    registry = SearchParameterRegistry.default()
    freshness = Freshness(store, recheck_s=0.05)
    service = GraphService(store, freshness, registry)
    transport = httpx.ASGITransport(app=create_graph_app(service))
    async with httpx.AsyncClient(transport=transport, base_url="http://graph") as http:
        yield Stack(primary, Indexer(store, freshness, registry), http)
    await store.close()


def ref(kind: str, rid: str) -> dict[str, str]:
    return {"reference": f"{kind}/{rid}"}


@pytest.fixture
async def chart(stack: Stack) -> dict[str, str]:
    """Two organizations, a patient of each, their observations and one report."""
    s = stack
    acme = await s.create({"resourceType": "Organization", "name": "Acme Health"})
    other = await s.create({"resourceType": "Organization", "name": "Other Clinic"})
    p1 = await s.create(
        {"resourceType": "Patient", "managingOrganization": ref("Organization", acme)}
    )
    p2 = await s.create(
        {"resourceType": "Patient", "managingOrganization": ref("Organization", other)}
    )
    obs = {"resourceType": "Observation", "code": {"text": "bp"}}
    a = await s.create({**obs, "status": "final", "subject": ref("Patient", p1)})
    b = await s.create({**obs, "status": "preliminary", "subject": ref("Patient", p1)})
    c = await s.create({**obs, "status": "final", "subject": ref("Patient", p2)})
    report = {"resourceType": "DiagnosticReport", "status": "final", "code": {"text": "panel"}}
    await s.create({**report, "result": [ref("Observation", c)]})
    await s.sync_graph()
    return {"acme": acme, "p1": p1, "p2": p2, "a": a, "b": b, "c": c}


CHAIN = {"subject:Patient.organization.name": "Acme", "status": "final"}
NESTED_HAS = {"_has:Observation:subject:_has:DiagnosticReport:result:status": "final"}


async def test_a_two_level_chain_is_walked_on_the_graph(
    stack: Stack, chart: dict[str, str]
) -> None:
    async with stack.gateway() as c:
        answer = await c.get("/fhir/Observation", params=CHAIN)
    assert answer.status_code == 200, answer.text
    assert ids(answer) == [chart["a"]]
    assert route(answer) == "graph,primary"
    assert "x-polyfhir-fallback" not in answer.headers


async def test_nested_has_is_walked_on_the_graph(stack: Stack, chart: dict[str, str]) -> None:
    async with stack.gateway() as c:
        answer = await c.get("/fhir/Patient", params=NESTED_HAS)
    assert ids(answer) == [chart["p2"]]
    assert route(answer) == "graph,primary"


async def test_without_a_rule_the_cost_model_keeps_small_walks_on_the_primary(
    stack: Stack, chart: dict[str, str]
) -> None:
    async with stack.gateway(walks_on_graph=False) as c:
        deeper = await c.get("/fhir/Observation", params=CHAIN)
        plan = (await c.get("/admin/explain/Observation", params=CHAIN)).json()
    assert ids(deeper) == [chart["a"]]
    assert route(deeper) == "primary"
    chain = next(p for p in plan["parts"] if p["feature"] == "chain")
    assert chain["route"]["reason"] == "primary_cheaper"
    assert {c["backend"] for c in chain["route"]["candidates"]} == {"graph", "primary"}


async def test_a_one_step_chain_stays_on_the_primary(stack: Stack, chart: dict[str, str]) -> None:
    async with stack.gateway(walks_on_graph=False) as c:
        answer = await c.get("/fhir/Patient", params={"organization.name": "Acme"})
    assert ids(answer) == [chart["p1"]]
    assert route(answer) == "primary"


async def test_no_terminal_match_is_an_empty_page(stack: Stack, chart: dict[str, str]) -> None:
    async with stack.gateway() as c:
        answer = await c.get(
            "/fhir/Observation", params={**CHAIN, "subject:Patient.organization.name": "Nobody"}
        )
    assert answer.status_code == 200
    assert ids(answer) == []
    assert route(answer) == "graph,primary"


async def test_a_graph_that_is_down_leaves_the_answer_to_the_primary(
    stack: Stack, chart: dict[str, str]
) -> None:
    async with stack.gateway_with_graph_down() as c:
        answer = await c.get("/fhir/Observation", params=CHAIN)
    assert ids(answer) == [chart["a"]]
    assert route(answer) == "primary"
    assert answer.headers["x-polyfhir-fallback"] == "graph=error"


async def test_a_stale_graph_leaves_the_answer_to_the_primary(
    stack: Stack, chart: dict[str, str]
) -> None:
    behind = TenantPositions({0: 99}, pending=0)  # the graph has applied nothing on partition 0
    async with stack.gateway(behind, sync={"max_read_lag_ms": 0}) as c:
        answer = await c.get("/fhir/Observation", params=CHAIN)
    assert ids(answer) == [chart["a"]]
    assert answer.headers["x-polyfhir-fallback"] == "graph=lagging"


async def test_a_reference_appears_once_the_graph_has_applied_it(
    stack: Stack, chart: dict[str, str]
) -> None:
    """Lag unchecked (the positions say fresh): a new Observation is walked once applied."""
    late = await stack.create(
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "bp"},
            "subject": ref("Patient", chart["p1"]),
        }
    )
    async with stack.gateway() as c:
        before = await c.get("/fhir/Observation", params=CHAIN)
        await stack.sync_graph()
        after = await c.get("/fhir/Observation", params=CHAIN)
    assert ids(before) == [chart["a"]]  # stale read accepted: positions say it is fresh
    assert sorted(ids(after)) == sorted([chart["a"], late])


async def test_explain_shows_the_split(stack: Stack) -> None:
    async with stack.gateway() as c:
        plan = (await c.get("/admin/explain/Observation", params=CHAIN)).json()
    assert plan["strategy"] == "primary_enriched"
    assert plan["backends"] == ["graph", "primary"]
    chain = next(p for p in plan["parts"] if p["feature"] == "chain")
    assert chain["route"]["backend"] == "graph"
    assert chain["route"]["fallback"] == "primary"
    assert any("graph walks" in note for note in plan["notes"])


async def test_reconcile_repairs_the_graph_from_the_primary(
    stack: Stack, chart: dict[str, str]
) -> None:
    ghost = ResourceChanged(
        stack.tenant,
        "Observation",
        "ghost",
        1,
        ChangeKind.CREATED,
        datetime.now(UTC),
        {"resourceType": "Observation", "id": "ghost", "subject": ref("Patient", chart["p1"])},
    )
    assert await stack.indexer(Batch([delivery(ghost)], {})) == []  # the primary never had it
    await stack.create({"resourceType": "Patient"})  # and the graph never saw this one
    async with stack.gateway() as c:
        started = await c.post("/admin/backends/graph/reconcile")
        assert started.status_code == 202, started.text
        location = started.headers["content-location"]

        async def ended() -> dict[str, Any] | None:
            job: dict[str, Any] = (await c.get(location)).json()
            return None if job["state"] == "running" else job

        job = await eventually(ended, what=location)
    assert job["state"] == "completed", job
    assert (job["progress"]["orphans"], job["progress"]["missing"]) == (1, 1)
    held = await contract_client(GRAPH_INDEX, "http://graph", stack.http).versions(
        TenantContext.of(stack.tenant), [ResourceKey("Observation", "ghost")]
    )
    assert held == []


# -- Patient/[id]/$everything ----------------------------------------------------------


def entry_keys(response: httpx.Response) -> list[str]:
    return [
        f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in response.json().get("entry", [])
    ]


async def test_everything_is_walked_on_the_graph_and_pages_by_key(
    stack: Stack, chart: dict[str, str]
) -> None:
    p1 = chart["p1"]
    expected = sorted(
        [f"Patient/{p1}", f"Observation/{chart['a']}", f"Observation/{chart['b']}"],
        key=lambda k: tuple(k.split("/")),
    )
    async with stack.gateway() as c:
        whole = await c.get(f"/fhir/Patient/{p1}/$everything")
        first = await c.get(f"/fhir/Patient/{p1}/$everything", params={"_count": "2"})
        next_url = next(link["url"] for link in first.json()["link"] if link["relation"] == "next")
        rest = await c.get(next_url)
        only = await c.get(f"/fhir/Patient/{p1}/$everything", params={"_type": "Observation"})
    assert whole.status_code == 200, whole.text
    assert entry_keys(whole) == expected
    assert route(whole) == "graph,primary"
    assert entry_keys(first) + entry_keys(rest) == expected
    assert not any(link["relation"] == "next" for link in rest.json()["link"])
    assert entry_keys(only) == [k for k in expected if k.startswith("Observation/")]


async def test_everything_falls_back_to_the_primary_with_the_same_answer(
    stack: Stack, chart: dict[str, str]
) -> None:
    p1 = chart["p1"]
    async with stack.gateway() as c:
        walked = await c.get(f"/fhir/Patient/{p1}/$everything")
    async with stack.gateway_with_graph_down() as c:
        fallen = await c.get(f"/fhir/Patient/{p1}/$everything")
        first = await c.get(f"/fhir/Patient/{p1}/$everything", params={"_count": "2"})
        next_url = next(link["url"] for link in first.json()["link"] if link["relation"] == "next")
        rest = await c.get(next_url)
        missing = await c.get("/fhir/Patient/nobody/$everything")
        bad = await c.get(f"/fhir/Patient/{p1}/$everything", params={"_type": "Nope"})
    assert fallen.status_code == 200, fallen.text
    assert entry_keys(fallen) == entry_keys(walked)
    assert route(fallen) == "primary"
    assert fallen.headers["x-polyfhir-fallback"] == "graph=error"
    assert entry_keys(first) + entry_keys(rest) == entry_keys(walked)
    assert missing.status_code == 404
    assert bad.status_code == 400


async def test_everything_for_a_page_of_patients(stack: Stack, chart: dict[str, str]) -> None:
    async with stack.gateway() as c:
        first = await c.get("/fhir/Patient/$everything", params={"_count": "1"})
        next_url = next(link["url"] for link in first.json()["link"] if link["relation"] == "next")
        second = await c.get(next_url)
        both = await c.get("/fhir/Patient/$everything", params={"_type": "Patient,Observation"})
    assert first.status_code == 200, first.text
    assert route(first) == "graph,primary"
    by_patient = {
        chart["p1"]: {
            f"Patient/{chart['p1']}",
            f"Observation/{chart['a']}",
            f"Observation/{chart['b']}",
        },
        chart["p2"]: {f"Patient/{chart['p2']}", f"Observation/{chart['c']}"},
    }
    pages = [set(entry_keys(first)), set(entry_keys(second))]
    assert pages in (
        [by_patient[chart["p1"]], by_patient[chart["p2"]]],
        [by_patient[chart["p2"]], by_patient[chart["p1"]]],
    )
    assert set(entry_keys(both)) == by_patient[chart["p1"]] | by_patient[chart["p2"]]


async def test_full_text_and_a_walk_narrow_the_primary_together(
    stack: Stack, chart: dict[str, str]
) -> None:
    """Text hits from the search backend, candidates from the graph: intersected."""
    search = FakeSearchIndex()
    for key in ("a", "b", "c"):  # c matches the text but belongs to the other organization
        search.add(stack.tenant, "Observation", chart[key], "hypertension")
    params = {"_text": "hypertension", "subject:Patient.organization.name": "Acme"}
    async with stack.gateway(search=search) as c:
        answer = await c.get("/fhir/Observation", params=params)
        final = await c.get("/fhir/Observation", params={**params, "status": "final"})
    assert answer.status_code == 200, answer.text
    assert sorted(ids(answer)) == sorted([chart["a"], chart["b"]])
    assert route(answer) == "graph,search,primary"
    assert ids(final) == [chart["a"]]


# -- the cost model at run time, failover to a standby graph ---------------------------

# joins priced dear (the walk wins while no candidates are assumed), a graph dear per id
DEAR_PER_ID = {
    "assumed_candidates": 0,
    "roles": {
        "primary": {"latency_ms": 3, "features": {"chain": 20}},
        "graph": {"latency_ms": 1, "per_1k_ids_ms": 100_000},
    },
}


async def test_the_terminal_s_real_count_can_leave_a_planned_walk_to_the_primary(
    stack: Stack, chart: dict[str, str]
) -> None:
    async with stack.gateway(walks_on_graph=False, cost=DEAR_PER_ID) as c:
        plan = (await c.get("/admin/explain/Observation", params=CHAIN)).json()
        answer = await c.get("/fhir/Observation", params=CHAIN)
    chain = next(p for p in plan["parts"] if p["feature"] == "chain")
    assert chain["route"]["backend"] == "graph"  # priced with 0 assumed candidates
    assert {c["backend"] for c in chain["route"]["candidates"]} == {"graph", "primary"}
    assert ids(answer) == [chart["a"]]
    assert route(answer) == "primary"
    assert answer.headers["x-polyfhir-fallback"] == "graph=primary_cheaper"


class Switchable(httpx.AsyncBaseTransport):
    """The graph-indexer's API while ``up``, a refused connection otherwise."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http, self.up = http, False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self.up:
            raise httpx.ConnectError("connection refused", request=request)
        answer = await self.http.send(request)
        headers = [(k, v) for k, v in answer.headers.items() if k != "content-encoding"]
        return httpx.Response(answer.status_code, headers=headers, content=answer.content)


async def test_a_standby_graph_serves_while_the_graph_is_down_and_the_graph_again_after(
    stack: Stack, chart: dict[str, str]
) -> None:
    switch = Switchable(stack.http)
    async with httpx.AsyncClient(transport=switch, base_url="http://graph") as flaky:
        original = contract_client(GRAPH_INDEX, "http://graph", flaky)
        standby_client = contract_client(GRAPH_INDEX, "http://graph", stack.http)
        standby = {**graph_backend("http://graph"), "id": "graph-b", "enabled": False}
        config = parse_config(
            {
                "backends": [
                    PRIMARY,
                    {**graph_backend("http://graph"), "failover": "graph-b"},
                    standby,
                ],
                "health": {"failure_threshold": 1, "success_threshold": 1},
                "routing": [WALKS],
            }
        )
        graphs = {"graph": original, "graph-b": standby_client}
        pipeline = QueryPipeline(Positioned(stack.primary, FRESH), config, {}, graphs=graphs)
        await pipeline.monitor.check_all()
        async with stack._client(pipeline) as c:
            answer = await c.get("/fhir/Observation", params=CHAIN)
            backends = (await c.get("/admin/backends")).json()
            everything = await c.get(f"/fhir/Patient/{chart['p1']}/$everything")
        assert ids(answer) == [chart["a"]]
        assert route(answer) == "graph-b,primary"
        assert backends["promotions"] == {"graph": "graph-b"}
        states = {b["id"]: b for b in backends["backends"]}
        assert states["graph"]["state"] == "unhealthy"
        assert states["graph-b"]["servingFor"] == ["graph"]
        assert route(everything) == "graph-b,primary"

        switch.up = True  # the original recovers: demoted standby, the graph serves again
        await pipeline.monitor.check_all()
        assert pipeline.monitor.promotions() == {}
        async with stack._client(pipeline) as c:
            again = await c.get("/fhir/Observation", params=CHAIN)
        assert ids(again) == [chart["a"]]
        assert route(again) == "graph,primary"
        assert "x-polyfhir-fallback" not in again.headers


async def test_an_untyped_chain_unites_the_walks_of_each_target_type(
    stack: Stack, chart: dict[str, str]
) -> None:
    """``subject.name`` on Observation: a Patient or a Location may match (union)."""
    ward = await stack.create({"resourceType": "Location", "name": "Ward Seven"})
    named = await stack.create({"resourceType": "Patient", "name": [{"family": "Ward"}]})
    obs = {"resourceType": "Observation", "status": "final", "code": {"text": "t"}}
    at_ward = await stack.create({**obs, "subject": ref("Location", ward)})
    of_named = await stack.create({**obs, "subject": ref("Patient", named)})
    await stack.sync_graph()
    rule = {"name": "chains", "match": {"features": ["chain"]}, "target": "graph"}
    params = {"subject.name": "Ward"}
    async with stack.gateway(routing=[rule]) as c:
        answer = await c.get("/fhir/Observation", params=params)
        plan = (await c.get("/admin/explain/Observation", params=params)).json()
    async with stack.gateway(walks_on_graph=False) as c:
        alone = await c.get("/fhir/Observation", params=params)
    assert sorted(ids(answer)) == sorted([at_ward, of_named]) == sorted(ids(alone))
    assert route(answer) == "graph,primary"
    assert route(alone) == "primary"
    assert plan["strategy"] == "union"


# -- the graph answers what the primary answers ------------------------------------------


async def org_tree(s: Stack) -> None:
    """The benchmark's shape, small: roots <- mids <- leaves (partOf), two patients per
    leaf, two Observations each and a DiagnosticReport on the first."""
    roots = [await s.create({"resourceType": "Organization", "name": f"Root{r}"}) for r in range(2)]
    mids = [
        await s.create(
            {
                "resourceType": "Organization",
                "name": f"Mid{m}",
                "partOf": ref("Organization", roots[m % 2]),
            }
        )
        for m in range(4)
    ]
    for leaf_no in range(8):
        leaf = await s.create(
            {
                "resourceType": "Organization",
                "name": f"Leaf{leaf_no}",
                "partOf": ref("Organization", mids[leaf_no % 4]),
            }
        )
        for k in range(2):
            patient = await s.create(
                {
                    "resourceType": "Patient",
                    "name": [{"family": f"Fam{leaf_no}-{k}"}],
                    "managingOrganization": ref("Organization", leaf),
                }
            )
            obs = [
                await s.create(
                    {
                        "resourceType": "Observation",
                        "status": "final",
                        "code": {"text": "bp"},
                        "subject": ref("Patient", patient),
                    }
                )
                for _ in range(2)
            ]
            await s.create(
                {
                    "resourceType": "DiagnosticReport",
                    "status": "final",
                    "code": {"coding": [{"system": "urn:panels", "code": f"panel-{leaf_no % 3}"}]},
                    "subject": ref("Patient", patient),
                    "result": [ref("Observation", obs[0])],
                }
            )
    await s.sync_graph()


SHAPES = [
    ("Observation", {"subject:Patient.family": "Fam3-1"}),
    ("Observation", {"subject:Patient.organization.name": "Leaf5"}),
    ("Observation", {"subject:Patient.organization.partof.name": "Mid1"}),
    ("Observation", {"subject:Patient.organization.partof.partof.name": "Root0"}),
    ("Observation", {"subject:Patient.organization.partof.partof.name": "Root0", "_count": "3"}),
    ("Patient", {"organization.partof.name": "Mid2,Mid3"}),
    (
        "Patient",
        {"_has:Observation:subject:_has:DiagnosticReport:result:code": "urn:panels|panel-1"},
    ),
    ("Patient", {"_has:Observation:subject:status": "final", "family": "Fam7-0"}),
    ("Organization", {"_has:Patient:organization:_has:Observation:subject:status": "final"}),
]


async def test_a_walk_on_the_graph_answers_what_the_primary_answers(stack: Stack) -> None:
    """Every query shape of ``benchmarks/graph.py`` (chains of 1-4 levels, nested and
    combined ``_has``), over the same data: the same matches, the same total, the same
    page. One tree for all shapes (building it is most of the test's time)."""
    await org_tree(stack)
    async with stack.gateway() as walked, stack.primary_only() as joined:
        for rtype, params in SHAPES:
            query = {"_total": "accurate", **params}
            on_graph = await walked.get(f"/fhir/{rtype}", params=query)
            on_primary = await joined.get(f"/fhir/{rtype}", params=query)
            shape = f"{rtype}?{params}"
            assert on_graph.status_code == on_primary.status_code == 200, (shape, on_graph.text)
            assert route(on_graph) == "graph,primary", shape
            assert route(on_primary) == "primary", shape
            assert ids(on_graph) == ids(on_primary), shape
            assert ids(on_primary), shape  # every shape matches something here
            assert on_graph.json()["total"] == on_primary.json()["total"], shape


async def test_everything_on_the_graph_answers_what_the_primary_answers(stack: Stack) -> None:
    await org_tree(stack)
    async with stack.primary_only() as joined:
        patients = ids(await joined.get("/fhir/Patient", params={"_count": "3"}))
    for patient in patients:
        async with stack.gateway() as walked, stack.primary_only() as joined:
            on_graph = await walked.get(f"/fhir/Patient/{patient}/$everything")
            on_primary = await joined.get(f"/fhir/Patient/{patient}/$everything")
        assert route(on_graph) == "graph,primary"
        assert route(on_primary) == "primary"
        assert entry_keys(on_graph) == entry_keys(on_primary)
        assert len(entry_keys(on_primary)) == 4  # the patient, two Observations, the report
