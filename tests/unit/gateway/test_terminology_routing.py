""":below, :above, :in and :not-in routed to the terminology backend: the codes it resolves
become a plain token list the primary filters by; every reason not to use it (no system,
lagging, failing, unknown code, too many codes, unhealthy, none configured) leaves the
modifier to the primary's own closure. Explain shows the split."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from polyfhir_core.contracts.primary_store import TenantPositions
from polyfhir_core.errors import ServiceUnavailable
from polyfhir_core.search import SearchParam, SearchQuery
from unit.gateway.terminology_harness import (
    PRIMARY,
    SYSTEM,
    TERMINOLOGY,
    VS,
    TerminologyGateway,
    build_gateway,
)


@pytest.fixture
def gw(tmp_path: Path) -> TerminologyGateway:
    return build_gateway(tmp_path)


async def seeded(gw: TerminologyGateway) -> dict[str, str]:
    """One Observation per code: code -> id."""
    return {code: await gw.observation(code) for code in ("A", "A1", "A11", "A2", "B")}


async def search(gw: TerminologyGateway, query: str) -> httpx.Response:
    async with gw.client() as c:
        answer = await c.get(f"/fhir/Observation?{query}")
    assert answer.status_code == 200, answer.text
    return answer


def found(answer: httpx.Response) -> set[str]:
    return {e["resource"]["id"] for e in answer.json().get("entry", [])}


def last_query(gw: TerminologyGateway) -> SearchQuery:
    return gw.store.searches[-1]


def code_param(query: SearchQuery) -> SearchParam:
    return next(p for p in query.params if p.name == "code")


async def test_below_is_answered_with_the_codes_of_the_terminology_backend(
    gw: TerminologyGateway,
) -> None:
    ids = await seeded(gw)
    answer = await search(gw, f"code:below={SYSTEM}|A1")
    assert found(answer) == {ids["A1"], ids["A11"]}
    assert answer.headers["x-polyfhir-route"] == "terminology,primary"
    assert "x-polyfhir-fallback" not in answer.headers
    asked = code_param(last_query(gw))
    assert asked.modifier is None
    assert set(asked.values) == {f"{SYSTEM}|A1", f"{SYSTEM}|A11"}


async def test_above_and_in_and_ored_values(gw: TerminologyGateway) -> None:
    ids = await seeded(gw)
    above = await search(gw, f"code:above={SYSTEM}|A11")
    assert found(above) == {ids["A"], ids["A1"], ids["A11"]}
    inside = await search(gw, f"code:in={VS}")
    assert found(inside) == {ids["A1"], ids["A11"]}
    ored = await search(gw, f"code:below={SYSTEM}|A11,{SYSTEM}|A2")
    assert found(ored) == {ids["A11"], ids["A2"]}


async def test_not_in_excludes_the_codes(gw: TerminologyGateway) -> None:
    ids = await seeded(gw)
    answer = await search(gw, f"code:not-in={VS}")
    assert found(answer) == {ids["A"], ids["A2"], ids["B"]}
    assert code_param(last_query(gw)).modifier == "not"
    assert answer.headers["x-polyfhir-route"] == "terminology,primary"


async def test_the_other_parameters_still_filter(gw: TerminologyGateway) -> None:
    ids = await seeded(gw)
    answer = await search(gw, f"code:below={SYSTEM}|A&_id={ids['A2']},{ids['B']}")
    assert found(answer) == {ids["A2"]}


async def test_an_empty_code_set_matches_nothing_without_asking_the_primary(
    gw: TerminologyGateway,
) -> None:
    await seeded(gw)
    assert gw.index is not None
    gw.index.value_set(gw.tenant, "http://example.org/empty", [])
    before = len(gw.store.searches)
    answer = await search(gw, "code:in=http://example.org/empty")
    assert found(answer) == set()
    assert answer.json()["total"] == 0
    assert len(gw.store.searches) == before


async def test_a_code_without_a_system_falls_back_to_the_primarys_closure(
    gw: TerminologyGateway,
) -> None:
    answer = await search(gw, "code:below=A1")
    assert answer.headers["x-polyfhir-route"] == "primary"
    assert answer.headers["x-polyfhir-fallback"] == "terminology=no_system"
    assert code_param(last_query(gw)).modifier == "below"  # the primary gets the modifier


@pytest.mark.parametrize(
    ("prepare", "reason"),
    [
        (lambda gw: setattr(gw.index, "failure", RuntimeError("boom")), "error"),
        (
            lambda gw: setattr(gw.store, "positions_given", TenantPositions({}, pending=1)),
            "lagging",
        ),
        (
            lambda gw: setattr(gw.store, "positions_given", TenantPositions({0: 5}, pending=0)),
            "lagging",
        ),
    ],
)
async def test_a_failing_or_lagging_backend_leaves_the_modifier_to_the_primary(
    gw: TerminologyGateway, prepare: Any, reason: str
) -> None:
    prepare(gw)
    answer = await search(gw, f"code:below={SYSTEM}|A1")
    assert answer.headers["x-polyfhir-route"] == "primary"
    assert answer.headers["x-polyfhir-fallback"] == f"terminology={reason}"
    assert code_param(last_query(gw)).modifier == "below"


async def test_a_fresh_backend_with_positions_is_used(tmp_path: Path) -> None:
    gw = build_gateway(tmp_path, positions=TenantPositions({0: 5}, pending=0))
    assert gw.index is not None
    gw.index.applied_positions = {0: 5}
    answer = await search(gw, f"code:below={SYSTEM}|A1")
    assert answer.headers["x-polyfhir-route"] == "terminology,primary"


async def test_an_unknown_code_falls_back(gw: TerminologyGateway) -> None:
    answer = await search(gw, f"code:below={SYSTEM}|ZZ")
    assert answer.headers["x-polyfhir-fallback"] == "terminology=not_found"


async def test_a_code_set_cut_at_max_codes_falls_back(tmp_path: Path) -> None:
    options = {"service_url": "http://127.0.0.1:9", "max_codes": 1}
    capped = {**TERMINOLOGY, "options": options}
    gw = build_gateway(tmp_path, backends=[PRIMARY, capped])
    answer = await search(gw, f"code:below={SYSTEM}|A1")
    assert answer.headers["x-polyfhir-fallback"] == "terminology=over_code_cap"
    assert gw.index is not None and gw.index.code_set_requests[-1].limit == 1


async def test_an_unhealthy_backend_is_not_asked(gw: TerminologyGateway) -> None:
    assert gw.index is not None
    gw.index.ready_error = ServiceUnavailable("down")
    health = gw.pipeline.config.health_for(gw.pipeline.config.backend("terminology"))
    for _ in range(health.failure_threshold):
        await gw.pipeline.monitor.check("terminology")
    answer = await search(gw, f"code:below={SYSTEM}|A1")
    assert answer.headers["x-polyfhir-route"] == "primary"
    assert gw.index.code_set_requests == []


async def test_without_a_terminology_backend_the_primary_answers(tmp_path: Path) -> None:
    gw = build_gateway(tmp_path, with_index=False, backends=[PRIMARY])
    answer = await search(gw, f"code:in={VS}")
    assert answer.headers["x-polyfhir-route"] == "primary"
    assert code_param(last_query(gw)).modifier == "in"


async def test_a_backend_without_a_client_falls_back(tmp_path: Path) -> None:
    gw = build_gateway(tmp_path, with_index=False)
    answer = await search(gw, f"code:in={VS}")
    assert answer.headers["x-polyfhir-fallback"] == "terminology=no_client"


async def test_a_rule_without_fallback_makes_a_failure_a_503(tmp_path: Path) -> None:
    rule = {
        "name": "codes",
        "match": {"features": ["terminology"]},
        "target": "terminology",
        "fallback": None,
    }
    gw = build_gateway(tmp_path, routing=[rule])
    assert gw.index is not None
    gw.index.failure = RuntimeError("boom")
    async with gw.client() as c:
        answer = await c.get(f"/fhir/Observation?code:below={SYSTEM}|A1")
    assert answer.status_code == 503


async def test_explain_shows_the_terminology_part_on_its_backend(gw: TerminologyGateway) -> None:
    async with gw.client() as c:
        answer = await c.get(f"/admin/explain/Observation?code:below={SYSTEM}|A1&status=final")
    assert answer.status_code == 200, answer.text
    plan = answer.json()
    routes = {p["feature"]: p["route"] for p in plan["parts"]}
    assert routes["terminology"]["backend"] == "terminology"
    assert routes["terminology"]["fallback"] == "primary"
    assert routes["basic"]["backend"] == "primary"
    assert plan["backends"] == ["terminology", "primary"]
    assert any("resolves :below" in note for note in plan["notes"])
