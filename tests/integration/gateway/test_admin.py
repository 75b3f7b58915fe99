"""Explain (the plan without running it), the backends list and the configuration advisor."""

from __future__ import annotations

from typing import Any

import pytest

from integration.gateway.harness import SEARCH, build

pytestmark = pytest.mark.integration

PRIMARY = {"id": "primary", "role": "primary", "kind": "sqlite", "url": "sqlite:///x.db"}


async def test_explain_shows_parts_routes_and_strategy_without_running_the_search(
    primary: Any,
) -> None:
    gw = build(primary)
    async with gw.client() as c:
        typed = await c.get(
            "/admin/explain/Observation", params={"_text": "x", "status": "final", "_sort": "-date"}
        )
        system = await c.get("/admin/explain", params={"_content": "x"})
        unknown = await c.get("/admin/explain/Nope", params={"_text": "x"})
    assert typed.status_code == 200
    plan = typed.json()
    assert plan["features"] == ["basic", "full_text", "sort"]
    assert plan["strategy"] == "primary_enriched"
    text = next(p for p in plan["parts"] if p["feature"] == "full_text")
    assert text["route"]["backend"] == "search"
    assert text["route"]["fallback"] == "primary"
    assert plan["backends"] == ["search", "primary"]
    assert system.json()["strategy"] == "secondary_filtered"
    assert unknown.status_code == 404
    assert gw.fake.requests == []  # nothing ran


async def test_explain_reflects_an_unhealthy_backend(primary: Any) -> None:
    gw = build(primary, health={"failure_threshold": 1, "success_threshold": 1})
    gw.fake.ready_error = RuntimeError("down")
    await gw.pipeline.monitor.check("search")
    async with gw.client() as c:
        plan = (await c.get("/admin/explain/Patient", params={"_text": "x"})).json()
    assert plan["parts"][0]["route"]["reason"] == "unhealthy"
    assert plan["backends"] == ["primary"]


async def test_backends_lists_every_configured_backend_with_its_state(primary: Any) -> None:
    graph = {"id": "graph", "role": "graph", "kind": "neo4j", "url": "neo4j://n:7687"}
    standby = {**SEARCH, "id": "search-standby", "enabled": False}
    gw = build(primary, extra=(graph, standby), sync={"mode": "synchronous"})
    async with gw.client() as c:
        body = (await c.get("/admin/backends")).json()
    states = {b["id"]: b["state"] for b in body["backends"]}
    assert states == {
        "primary": "healthy",
        "search": "healthy",
        "graph": "not_queried",
        "search-standby": "disabled",
    }
    assert body["writesWaitFor"] == ["search"]  # the graph has no client to wait on


async def test_advisor_analyze_routes_queries_under_the_current_config(primary: Any) -> None:
    gw = build(primary)
    async with gw.client() as c:
        answer = await c.post(
            "/admin/advisor/analyze",
            json={
                "queries": [
                    "Patient?_text=a",
                    "Observation?code:below=http://loinc.org|1&subject.name=x",
                ]
            },
        )
    results = answer.json()["results"]
    assert results[0]["strategy"] == "secondary_filtered"
    assert results[1]["features"] == ["chain", "terminology"]
    assert {p["route"]["backend"] for p in results[1]["parts"]} == {"primary"}
    assert results[1]["complexity"] > results[0]["complexity"]


async def test_advisor_validate_reports_problems_and_warnings(primary: Any) -> None:
    gw = build(primary)
    async with gw.client() as c:
        bad = (await c.post("/admin/advisor/validate", json={"backends": [SEARCH]})).json()
        good = (await c.post("/admin/advisor/validate", json={"backends": [PRIMARY]})).json()
    assert bad["valid"] is False
    assert {p["code"] for p in bad["problems"]}
    assert good == {"valid": True, "problems": [], "warnings": good["warnings"]}
    assert "no_secondaries" in {w["code"] for w in good["warnings"]}


async def test_advisor_suggest_and_simulate(primary: Any) -> None:
    gw = build(primary)
    workload = [
        {"query": "Patient?_text=fever", "frequency": 90},
        {"query": "Patient?name=x", "frequency": 10},
    ]
    async with gw.client() as c:
        suggested = (
            await c.post(
                "/admin/advisor/suggest",
                json={"workload": workload, "config": {"backends": [PRIMARY]}},
            )
        ).json()
        simulated = (
            await c.post(
                "/admin/advisor/simulate",
                json={
                    "config": {"backends": [PRIMARY, SEARCH]},
                    "queries": ["Patient?_text=a&gender=male"],
                    "health": {"search": "lagging"},
                },
            )
        ).json()
        capped = (
            await c.post(
                "/admin/advisor/simulate",
                json={
                    "config": {"backends": [PRIMARY, SEARCH], "cost": {"max_shipped_ids": 10}},
                    "queries": ["Patient?_text=a&gender=male"],
                    "estimates": {"full_text": 500},
                },
            )
        ).json()
    search = next(s for s in suggested["suggestions"] if s["role"] == "search")
    assert search["advice"] == "add"
    assert search["routingRule"]["match"] == {"features": ["full_text"]}
    assert simulated["results"][0]["parts"][1]["route"]["reason"] == "lagging"
    assert capped["results"][0]["parts"][1]["route"]["reason"] == "over_id_cap"
    assert gw.fake.requests == []


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("analyze", b"not json"),
        ("analyze", b'{"queries": "Patient?x=1"}'),
        ("analyze", b'{"queries": ["Nope?x=1"]}'),
        ("validate", b"[1, 2]"),
        ("suggest", b'{"workload": []}'),
        ("suggest", b'{"workload": [{"query": "Patient?x=1", "frequency": -1}]}'),
        ("simulate", b'{"queries": ["Patient?_text=x"], "health": {"search": "sleepy"}}'),
        ("simulate", b'{"queries": ["Patient?_text=x"], "config": {"backends": []}}'),
        ("simulate", b'{"queries": ["Patient?_text=x"], "estimates": {"warp": 1}}'),
        ("analyze", b'{"queries": ["Patient?_text=x"], "config": {"backends": []}}'),
        ("analyze", b'{"queries": ["Patient?_text=x"], "config": [1]}'),
        ("suggest", b'{"workload": {"read_write_ratio": 3}}'),
        (
            "suggest",
            b'{"workload": {"read_write_ratio": 3, "full_text_ratio": 2, '
            b'"chain_ratio": 0, "queries_per_day": 10}}',
        ),
        (
            "suggest",
            b'{"workload": {"read_write_ratio": "lots", "full_text_ratio": 0, '
            b'"chain_ratio": 0, "queries_per_day": 10}}',
        ),
        (
            "suggest",
            b'{"workload": {"read_write_ratio": 1, "full_text_ratio": 0, '
            b'"chain_ratio": 0, "queries_per_day": 10, "typo": 1}}',
        ),
    ],
)
async def test_advisor_rejects_bad_input_with_an_operation_outcome(
    primary: Any, path: str, body: bytes
) -> None:
    gw = build(primary)
    async with gw.client() as c:
        answer = await c.post(
            f"/admin/advisor/{path}", content=body, headers={"content-type": "application/json"}
        )
    assert answer.status_code == 400, answer.text
    assert answer.json()["resourceType"] == "OperationOutcome"


GRAPH = {"id": "graph", "role": "graph", "kind": "falkordb", "url": "redis://g:6379"}


async def test_advisor_health_says_pass_warn_and_which_standby_serves(primary: Any) -> None:
    standby = {**SEARCH, "id": "search-b", "enabled": False}
    gw = build(primary, extra=(standby,), health={"failure_threshold": 1, "success_threshold": 1})
    async with gw.client() as c:
        healthy = (await c.get("/admin/advisor/health")).json()
        gw.fake.ready_error = RuntimeError("down")
        await gw.pipeline.monitor.check("search")
        degraded = (await c.get("/admin/advisor/health")).json()
    assert healthy["status"] == "pass"
    assert healthy["primary"]["state"] == "healthy"
    assert degraded["status"] == "warn"
    assert {b["id"]: b["state"] for b in degraded["secondaries"]} == {"search": "unhealthy"}
    assert degraded["promotions"] == {}  # the standby has no client: nobody is promoted


async def test_advisor_backends_show_effective_settings_and_kinds(primary: Any) -> None:
    gw = build(primary, extra=({**GRAPH, "sync": {"batch_size": 50}},), retry={"max_attempts": 2})
    async with gw.client() as c:
        listed = (await c.get("/admin/advisor/backends")).json()
        falkor = await c.get("/admin/advisor/backends/falkordb")
        unknown = await c.get("/admin/advisor/backends/cassandra")
    by_id = {b["id"]: b for b in listed["backends"]}
    assert by_id["graph"]["sync"]["batch_size"] == 50
    assert by_id["graph"]["retry"]["max_attempts"] == 2
    assert by_id["graph"]["queried"] == ["chain", "has"]
    assert by_id["search"]["state"] == "healthy"
    assert by_id["primary"]["cost"]["features"]["chain"] == 2.0
    kind = falkor.json()
    assert kind["roles"] == ["graph"]
    assert [b["id"] for b in kind["backends"]] == ["graph"]
    assert kind["defaultCost"]["graph"]["latency_ms"] > 0
    assert unknown.status_code == 404
    assert unknown.json()["resourceType"] == "OperationOutcome"


async def test_advisor_analyze_plans_with_a_given_configuration(primary: Any) -> None:
    gw = build(primary)
    deep = "Observation?subject:Patient.organization.partof.name=x"
    async with gw.client() as c:
        current = (await c.post("/admin/advisor/analyze", json={"queries": [deep]})).json()
        given = (
            await c.post(
                "/admin/advisor/analyze",
                json={
                    "queries": [deep],
                    "config": {
                        "backends": [PRIMARY, GRAPH],
                        "cost": {"roles": {"primary": {"features": {"chain": 8}}}},
                    },
                },
            )
        ).json()
    assert current["results"][0]["parts"][0]["route"]["reason"] == "no_backend"
    route = given["results"][0]["parts"][0]["route"]
    assert route["backend"] == "graph"
    assert {c["backend"] for c in route["candidates"]} == {"primary", "graph"}


async def test_advisor_suggests_from_the_workload_s_shape(primary: Any) -> None:
    gw = build(primary)
    shape = {
        "read_write_ratio": 9,
        "full_text_ratio": 0.2,
        "chain_ratio": 0.3,
        "queries_per_day": 864_000,
    }
    async with gw.client() as c:
        answer = (
            await c.post(
                "/admin/advisor/suggest",
                json={"workload": shape, "config": {"backends": [PRIMARY]}},
            )
        ).json()
        quiet = (
            await c.post(
                "/admin/advisor/suggest",
                json={"workload": {**shape, "full_text_ratio": 0.01, "chain_ratio": 0.0}},
            )
        ).json()
    advice = {s["role"]: s["advice"] for s in answer["suggestions"]}
    assert advice == {"search": "add", "graph": "add", "terminology": "not_needed"}
    assert answer["workload"] == {"readsPerSecond": 9.0, "writesPerSecond": 1.0}
    assert answer["sync"]["mode"]["kind"] == "hybrid"
    quiet_advice = {s["role"]: s["advice"] for s in quiet["suggestions"]}
    assert quiet_advice["search"] == "optional"  # configured, but 1 % does not need it
    assert quiet_advice["graph"] == "not_needed"
    assert quiet["sync"]["mode"] == "asynchronous"
