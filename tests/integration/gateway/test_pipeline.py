"""The gateway's query pipeline over the real primary store (SQLite, in-process) and an
in-memory SearchIndex double: which backend serves a search, how answers merge, and
that a search never fails because the search secondary is down, slow or behind."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import orjson
import pytest

from fakes.search_index import DOWN, FakeSearchIndex
from integration.gateway.harness import HYBRID, SEARCH, Gateway, Positioned, build, ids, route
from polyfhir_core.config import parse_config
from polyfhir_core.contracts.primary_store import TenantPositions
from polyfhir_core.planning import BackendState
from polyfhir_gateway.app import create_app
from polyfhir_gateway.pipeline import QueryPipeline
from polyfhir_gateway.settings import GatewaySettings

pytestmark = pytest.mark.integration

# -- merge strategies -------------------------------------------------------------------


async def test_full_text_alone_is_answered_by_the_search_backend_in_relevance_order(
    primary: Any,
) -> None:
    gw = build(primary)
    once = await gw.patient("fever")
    thrice = await gw.patient("fever fever fever")
    twice = await gw.patient("fever fever")
    await gw.patient("cough")
    first = await gw.search("Patient", _text="fever", _count=2)
    assert route(first) == "search,primary"
    assert ids(first) == [thrice, twice]
    assert first.json()["total"] == 3
    next_url = next(link["url"] for link in first.json()["link"] if link["relation"] == "next")
    assert "_offset=2" in next_url and "_text=fever" in next_url
    second = await gw.search("Patient", _text="fever", _count=2, _offset=2)
    assert ids(second) == [once]
    assert not [link for link in second.json()["link"] if link["relation"] == "next"]


async def test_full_text_with_other_filters_restricts_the_primary_by_id(primary: Any) -> None:
    gw = build(primary)
    woman = await gw.patient("asthma", "female")
    await gw.patient("asthma", "male")
    await gw.patient("diabetes", "female")
    answer = await gw.search("Patient", _text="asthma", gender="female")
    assert route(answer) == "search,primary"
    assert ids(answer) == [woman]
    assert gw.fake.requests[-1].limit == gw.pipeline.config.cost.max_shipped_ids


async def test_an_id_parameter_is_intersected_with_the_hits(primary: Any) -> None:
    gw = build(primary)
    a = await gw.patient("migraine")
    b = await gw.patient("migraine")
    c = await gw.patient("nausea")
    answer = await gw.search("Patient", _text="migraine", _id=f"{b},{c}")
    assert ids(answer) == [b]
    assert a not in ids(answer)


async def test_no_hits_is_an_empty_searchset(primary: Any) -> None:
    gw = build(primary)
    await gw.patient("gout", "male")
    answer = await gw.search("Patient", _text="nothingmatches", gender="male")
    assert answer.json()["total"] == 0
    assert ids(answer) == []


async def test_summary_count_counts_hits_without_reading_resources(primary: Any) -> None:
    gw = build(primary)
    for _ in range(3):
        await gw.patient("anemia")
    answer = await gw.search("Patient", _text="anemia", _summary="count")
    assert answer.json()["total"] == 3
    assert "entry" not in answer.json()


async def test_without_a_config_the_primary_answers_and_says_so(primary: Any) -> None:
    app = create_app(primary, GatewaySettings())
    async with httpx.AsyncClient(
        base_url="http://testserver",
        transport=httpx.ASGITransport(app=app),
        headers={"X-Tenant-ID": "tp" + uuid.uuid4().hex[:8]},
    ) as c:
        answer = await c.get("/fhir/Patient", params={"_text": "x"})
    assert answer.status_code == 200
    assert route(answer) == "primary"


# -- never failing because of the secondary ------------------------------------------


async def test_search_backend_errors_fall_back_to_the_primary_full_text(primary: Any) -> None:
    gw = build(primary)
    pid = await gw.patient("bronchitis")
    gw.fake.failure = DOWN
    answer = await gw.search("Patient", _text="bronchitis")
    assert route(answer) == "primary"
    assert answer.headers["x-polyfhir-fallback"] == "search=error"
    assert ids(answer) == [pid]


async def test_a_slow_search_backend_is_abandoned_at_the_deadline(primary: Any) -> None:
    slow = {**SEARCH, "options": {"service_url": "http://x", "query_timeout_ms": 50}}
    config = parse_config(
        {
            "backends": [
                {"id": "primary", "role": "primary", "kind": "sqlite", "url": "sqlite:///x.db"},
                slow,
            ],
            "sync": HYBRID,
        }
    )
    fake = FakeSearchIndex(hang=True)
    pipeline = QueryPipeline(primary, config, {"search": fake})
    transport = httpx.ASGITransport(app=create_app(primary, GatewaySettings(), pipeline=pipeline))
    gw = Gateway(pipeline, fake, transport, f"t{uuid.uuid4().hex[:12]}")
    pid = await gw.patient("pleurisy")
    answer = await gw.search("Patient", _text="pleurisy")
    assert route(answer) == "primary"
    assert answer.headers["x-polyfhir-fallback"] == "search=timeout"
    assert ids(answer) == [pid]


async def test_more_hits_than_may_be_shipped_let_the_primary_answer(primary: Any) -> None:
    gw = build(primary, cost={"max_shipped_ids": 2})
    women = [await gw.patient("eczema", "female") for _ in range(2)]
    await gw.patient("eczema", "male")
    answer = await gw.search("Patient", _text="eczema", gender="female", _sort="_id")
    assert route(answer) == "primary"
    assert answer.headers["x-polyfhir-fallback"] == "search=over_id_cap"
    assert sorted(ids(answer)) == sorted(women)
    deep = await gw.search("Patient", _text="eczema", _count=2, _offset=2)
    assert deep.headers["x-polyfhir-fallback"] == "search=over_id_cap"


async def test_asynchronous_reads_use_the_secondary_only_once_it_caught_up(primary: Any) -> None:
    sync = {"mode": "asynchronous", "max_read_lag_ms": 0}
    behind = Positioned(primary, TenantPositions({0: 7, 1: 3}))
    gw = build(primary, behind, sync=sync)
    pid = await gw.patient("tinnitus")
    gw.fake.applied_positions = {0: 7, 1: 2}
    stale = await gw.search("Patient", _text="tinnitus")
    assert route(stale) == "primary"
    assert stale.headers["x-polyfhir-fallback"] == "search=lagging"
    assert ids(stale) == [pid]
    gw.fake.applied_positions = {0: 7, 1: 3}
    fresh = await gw.search("Patient", _text="tinnitus")
    assert route(fresh) == "search,primary"


async def test_unpublished_changes_keep_reads_on_the_primary(primary: Any) -> None:
    sync = {"mode": "asynchronous", "max_read_lag_ms": 200}
    gw = build(primary, Positioned(primary, TenantPositions({}, pending=1)), sync=sync)
    await gw.patient("vertigo")
    answer = await gw.search("Patient", _text="vertigo")
    assert answer.headers["x-polyfhir-fallback"] == "search=lagging"


async def test_an_unhealthy_backend_is_bypassed_until_it_recovers(primary: Any) -> None:
    gw = build(primary, health={"failure_threshold": 2, "success_threshold": 2})
    pid = await gw.patient("sinusitis")
    gw.fake.ready_error = DOWN
    assert await gw.pipeline.monitor.check("search") is BackendState.HEALTHY
    assert await gw.pipeline.monitor.check("search") is BackendState.UNHEALTHY
    bypassed = await gw.search("Patient", _text="sinusitis")
    assert route(bypassed) == "primary"
    assert "x-polyfhir-fallback" not in bypassed.headers  # planned that way, not a failure
    assert ids(bypassed) == [pid]
    async with gw.client() as c:
        listed = (await c.get("/admin/backends")).json()["backends"]
    assert next(b for b in listed if b["id"] == "search")["state"] == "unhealthy"
    gw.fake.ready_error = None
    await gw.pipeline.monitor.check("search")
    assert await gw.pipeline.monitor.check("search") is BackendState.HEALTHY
    assert route(await gw.search("Patient", _text="sinusitis")) == "search,primary"


async def test_a_rule_without_fallback_answers_503_when_its_backend_is_down(primary: Any) -> None:
    rule = {
        "name": "ft",
        "match": {"features": ["full_text"]},
        "target": "search",
        "fallback": None,
    }
    gw = build(primary, routing=[rule])
    gw.fake.failure = DOWN
    async with gw.client() as c:
        answer = await c.get("/fhir/Patient", params={"_text": "x"})
    assert answer.status_code == 503
    assert answer.json()["resourceType"] == "OperationOutcome"


# -- SyncMode on writes --------------------------------------------------------------


async def test_synchronous_writes_wait_for_the_search_backend(primary: Any) -> None:
    gw = build(primary)
    async with gw.client() as c:
        created = await c.post("/fhir/Patient", json={"resourceType": "Patient"})
        pid = created.json()["id"]
        updated = await c.put(f"/fhir/Patient/{pid}", json={"resourceType": "Patient", "id": pid})
        deleted = await c.delete(f"/fhir/Patient/{pid}")
    assert (created.status_code, updated.status_code, deleted.status_code) == (201, 200, 204)
    assert "x-polyfhir-outcome" not in created.headers
    waited = [(v.resource_type, v.id, v.version) for _, vs, _ in gw.fake.waited for v in vs]
    assert waited == [("Patient", pid, 1), ("Patient", pid, 2), ("Patient", pid, 3)]
    assert all(t == gw.tenant and ms == 500 for t, _, ms in gw.fake.waited)


async def test_asynchronous_writes_do_not_wait(primary: Any) -> None:
    gw = build(primary, sync={"mode": "asynchronous"})
    await gw.patient("x")
    assert gw.fake.waited == []


async def test_a_sync_timeout_keeps_the_write_warns_and_marks_the_backend_lagging(
    primary: Any,
) -> None:
    gw = build(primary)
    gw.fake.applied = False
    async with gw.client(prefer="return=OperationOutcome") as c:
        created = await c.post("/fhir/Patient", json={"resourceType": "Patient", "gender": "other"})
    assert created.status_code == 201
    header = orjson.loads(created.headers["x-polyfhir-outcome"])
    assert header["issue"][0]["severity"] == "warning"
    assert "search" in header["issue"][0]["diagnostics"]
    body = created.json()
    assert body["resourceType"] == "OperationOutcome"
    assert [i["severity"] for i in body["issue"]] == ["information", "warning"]
    pid = created.headers["location"].split("/Patient/")[1].split("/")[0]
    async with gw.client() as c:
        assert (await c.get(f"/fhir/Patient/{pid}")).status_code == 200  # the write stands
    assert gw.pipeline.monitor.state("search") is BackendState.LAGGING
    bypassed = await gw.search("Patient", _text="anything")
    assert route(bypassed) == "primary"
    gw.fake.applied = True
    assert await gw.pipeline.monitor.check("search") is BackendState.HEALTHY


async def test_bundle_entries_carry_the_sync_warning(primary: Any) -> None:
    gw = build(primary)
    gw.fake.applied = False
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "request": {"method": "POST", "url": "Patient"},
                "resource": {"resourceType": "Patient"},
            },
            {
                "request": {"method": "POST", "url": "Patient"},
                "resource": {"resourceType": "Patient"},
            },
        ],
    }
    async with gw.client() as c:
        answer = await c.post("/fhir", json=bundle)
    assert answer.status_code == 200
    entries = answer.json()["entry"]
    for entry in entries:
        assert entry["response"]["status"].startswith("201")
        assert entry["response"]["outcome"]["issue"][0]["severity"] == "warning"
    assert len(gw.fake.waited[-1][1]) == 2  # one wait for the whole transaction
