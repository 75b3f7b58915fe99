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
