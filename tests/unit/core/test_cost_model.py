"""The router's cost model: the cheapest capable backend per part, failover promotion."""

from __future__ import annotations

import math
from typing import Any

import pytest

from polyfhir_core.config import CompositeConfig, QueryFeature, parse_config
from polyfhir_core.planning import BackendState, QueryPlan, RouteReason, RoutingContext, analyze
from polyfhir_core.planning.advisor import parse_query_line
from polyfhir_core.planning.analyzer import QueryPart
from polyfhir_core.planning.cost_model import CostModel, PartEstimate
from polyfhir_core.planning.router import plan_query

pytestmark = pytest.mark.unit

PRIMARY = {"id": "primary", "role": "primary", "kind": "postgresql", "url": "postgresql://p/db"}
GRAPH = {"id": "graph", "role": "graph", "kind": "neo4j", "url": "neo4j://n:7687"}
FALKOR = {"id": "falkor", "role": "graph", "kind": "falkordb", "url": "falkor://f:6379"}
SEARCH = {"id": "search", "role": "search", "kind": "opensearch", "url": "http://os:9200"}

ONE_STEP = ("Observation", "subject:Patient.name=x", QueryFeature.CHAIN)
TWO_STEPS = ("Observation", "subject:Patient.organization.name=x", QueryFeature.CHAIN)
THREE_STEPS = (
    "Observation",
    "subject:Patient.organization.partof.name=x",
    QueryFeature.CHAIN,
)
ONE_HAS = ("Patient", "_has:Observation:subject:code=x", QueryFeature.HAS)
NESTED_HAS = ("Patient", "_has:Observation:subject:_has:AuditEvent:entity:type=x", QueryFeature.HAS)


# a primary whose joins were measured dear (the defaults price a joined row at 2x an id)
DEAR_JOINS = {
    "roles": {
        "primary": {
            "latency_ms": 3,
            "per_1k_ids_ms": 1,
            "features": {"chain": 8, "has": 8},
            "resource_units": 2,
        }
    }
}


def config(*backends: dict[str, Any], **top: Any) -> CompositeConfig:
    return parse_config({"backends": [PRIMARY, *backends], **top})


def dear(*backends: dict[str, Any], **cost: Any) -> CompositeConfig:
    return config(*backends, cost={**DEAR_JOINS, **cost})


def plan(shape: tuple[str, str, QueryFeature], cfg: CompositeConfig, **ctx: Any) -> QueryPlan:
    rtype, query, _ = shape
    return plan_query(analyze(parse_query_line(f"{rtype}?{query}")), RoutingContext(cfg, **ctx))


def decided(shape: tuple[str, str, QueryFeature], cfg: CompositeConfig, **ctx: Any) -> Any:
    decision = plan(shape, cfg, **ctx).decision(shape[2])
    assert decision is not None
    return decision


@pytest.mark.parametrize("terminal_matches", [0, 1, 5, 50, 500, 5_000, 10_000])
@pytest.mark.parametrize("shape", [ONE_STEP, ONE_HAS])
def test_a_one_level_walk_stays_on_the_primary_however_selective(
    shape: tuple[str, str, QueryFeature], terminal_matches: int
) -> None:
    decision = decided(shape, config(GRAPH), estimates={shape[2]: terminal_matches})
    assert (decision.backend, decision.reason) == ("primary", RouteReason.PRIMARY_CHEAPER)


@pytest.mark.parametrize("terminal_matches", [1, 10, 100, 1_000, 9_000])
@pytest.mark.parametrize("shape", [ONE_STEP, TWO_STEPS, THREE_STEPS, ONE_HAS, NESTED_HAS])
@pytest.mark.parametrize("fanout", [None, 1.0, 4.0, 30.0])
def test_the_chosen_backend_is_never_dearer_than_another_candidate(
    shape: tuple[str, str, QueryFeature], terminal_matches: int, fanout: float | None
) -> None:
    fanouts = {} if fanout is None else {"graph": fanout, "falkor": fanout}
    decision = decided(
        shape,
        config(GRAPH, FALKOR),
        estimates={shape[2]: terminal_matches},
        fanout=fanouts,
    )
    scores = {c.backend: c.score for c in decision.costs}
    assert set(scores) == {"primary", "graph", "falkor"}
    assert scores[decision.backend] == min(scores.values())


def test_with_the_default_weights_walks_stay_on_the_primary_at_small_sizes() -> None:
    """What benchmarks/graph.py measured at ~20k resources: the primary's joins beat the
    graph's extra round trips for chains of 1-4 levels."""
    for shape in (ONE_STEP, TWO_STEPS, THREE_STEPS, NESTED_HAS):
        decision = decided(shape, config(GRAPH))
        assert (decision.backend, decision.reason) == ("primary", RouteReason.PRIMARY_CHEAPER)


def test_deeper_walks_go_to_the_graph_when_joins_are_dear_and_explain_says_why() -> None:
    decision = decided(THREE_STEPS, dear(GRAPH), estimates={QueryFeature.CHAIN: 40})
    assert (decision.backend, decision.reason) == ("graph", RouteReason.ROLE_DEFAULT)
    route = decision.to_json()
    costs = {c["backend"]: c for c in route["candidates"]}
    assert costs["graph"]["score"] < costs["primary"]["score"]
    assert [c["call"] for c in costs["graph"]["calls"]] == [
        "terminal filter",
        "positions",
        "positions",
        "walk 3 steps",
        "_id candidates",
    ]
    assert costs["graph"]["candidates"] == 40 and not costs["graph"]["assumed"]
    assert "cost: graph" in route["detail"] and "< primary" in route["detail"]


def test_a_walk_reaching_more_than_the_id_cap_is_no_graph_route() -> None:
    decision = decided(
        THREE_STEPS, dear(GRAPH), estimates={QueryFeature.CHAIN: 40}, fanout={"graph": 100.0}
    )
    assert decision.backend == "primary"
    graph = next(c for c in decision.to_json()["candidates"] if c["backend"] == "graph")
    assert graph["score"] == "over_id_cap"


def test_without_estimates_explain_says_the_candidates_are_assumed() -> None:
    decision = decided(TWO_STEPS, config(GRAPH, cost={"assumed_candidates": 7}))
    assert decision.backend == "primary"
    assert all(c.assumed and c.candidates == 7 for c in decision.costs)
    assert "(assumed candidates)" in decision.detail


def test_the_cheaper_of_two_graph_backends_serves() -> None:
    # FalkorDB's kind has the lower base cost than Neo4j's Bolt round trip
    assert decided(THREE_STEPS, dear(GRAPH, FALKOR)).backend == "falkor"
    steered = dear(GRAPH, FALKOR, backends={"falkor": {"weight": 5.0}})
    assert decided(THREE_STEPS, steered).backend == "graph"


def test_an_operator_weight_can_keep_walks_on_the_primary() -> None:
    assert decided(THREE_STEPS, dear(GRAPH)).backend == "graph"
    heavy = {"graph": {"latency_ms": 6, "per_1k_ids_ms": 0.25, "weight": 20.0}}
    decision = decided(THREE_STEPS, dear(GRAPH, backends=heavy))
    assert (decision.backend, decision.reason) == ("primary", RouteReason.PRIMARY_CHEAPER)


def test_a_low_quality_backend_loses_to_an_exact_one() -> None:
    sloppy = {"falkordb": {"latency_ms": 1, "per_1k_ids_ms": 0.25, "quality": 0.5}}
    assert decided(THREE_STEPS, dear(GRAPH, FALKOR, kinds=sloppy)).backend == "graph"
    indifferent = dear(GRAPH, FALKOR, kinds=sloppy, quality_weight=0)
    assert decided(THREE_STEPS, indifferent).backend == "falkor"


def test_a_wider_fanout_makes_the_graph_cheaper_for_a_two_step_walk() -> None:
    narrow = decided(TWO_STEPS, config(GRAPH), estimates={QueryFeature.CHAIN: 100})
    wide = decided(
        TWO_STEPS,
        dear(GRAPH),
        estimates={QueryFeature.CHAIN: 10},
        fanout={"graph": 30.0},
    )
    assert (narrow.backend, narrow.reason) == ("primary", RouteReason.PRIMARY_CHEAPER)
    assert wide.backend == "graph"


def test_full_text_is_cheaper_on_the_search_backend() -> None:
    shape = ("Patient", "_text=x&gender=male", QueryFeature.FULL_TEXT)
    for hits in (1, 100, 9_000):
        decision = decided(shape, config(SEARCH), estimates={QueryFeature.FULL_TEXT: hits})
        assert decision.backend == "search"


def test_a_rule_decides_but_its_cost_is_shown() -> None:
    rule = {"name": "chains", "match": {"features": ["chain"]}, "target": "graph"}
    decision = decided(ONE_STEP, config(GRAPH, routing=[rule]))
    assert (decision.backend, decision.reason) == ("graph", RouteReason.RULE)
    assert [c.backend for c in decision.costs] == ["graph"]


# -- failover --------------------------------------------------------------------------

STANDBY = {**FALKOR, "id": "graph-standby", "enabled": False}
WITH_STANDBY = {**GRAPH, "failover": "graph-standby"}


def test_an_unhealthy_graph_is_replaced_by_its_healthy_standby() -> None:
    cfg = dear(WITH_STANDBY, STANDBY)
    result = plan(THREE_STEPS, cfg, states={"graph": BackendState.UNHEALTHY})
    decision = result.decision(QueryFeature.CHAIN)
    assert decision is not None
    assert (decision.backend, decision.reason, decision.promoted_from) == (
        "graph-standby",
        RouteReason.FAILOVER,
        "graph",
    )
    assert decision.fallback == "primary"
    assert result.backends == ("graph-standby", "primary")
    assert decision.to_json()["promotedFrom"] == "graph"
    assert "standby graph-standby is promoted" in decision.detail


def test_a_healthy_graph_keeps_serving_and_its_standby_waits() -> None:
    decision = decided(THREE_STEPS, dear(WITH_STANDBY, STANDBY))
    assert (decision.backend, decision.promoted_from) == ("graph", None)


@pytest.mark.parametrize("standby_state", [BackendState.UNHEALTHY, BackendState.LAGGING])
def test_the_primary_answers_only_when_both_are_down(standby_state: BackendState) -> None:
    states = {"graph": BackendState.UNHEALTHY, "graph-standby": standby_state}
    decision = decided(THREE_STEPS, config(WITH_STANDBY, STANDBY), states=states)
    assert (decision.backend, decision.reason) == ("primary", RouteReason.UNHEALTHY)
    assert "and so is its standby graph-standby" in decision.detail


def test_a_rule_target_fails_over_to_its_standby_too() -> None:
    rule = {"name": "chains", "match": {"features": ["chain"]}, "target": "graph", "fallback": None}
    cfg = config(WITH_STANDBY, STANDBY, routing=[rule])
    promoted = decided(ONE_STEP, cfg, states={"graph": BackendState.LAGGING})
    assert (promoted.backend, promoted.reason) == ("graph-standby", RouteReason.FAILOVER)
    both = {"graph": BackendState.LAGGING, "graph-standby": BackendState.UNHEALTHY}
    failed = decided(ONE_STEP, cfg, states=both)
    assert failed.reason is RouteReason.NO_FALLBACK


def test_standbys_are_listed_for_clients_and_health_checks() -> None:
    cfg = config(WITH_STANDBY, STANDBY)
    assert [b.id for b in cfg.standbys] == ["graph-standby"]
    assert cfg.standby_of(cfg.backend("graph")) == cfg.backend("graph-standby")


def _walk_on(backend: str, shape: tuple[str, str, QueryFeature], estimate: PartEstimate) -> Any:
    cfg = dear(GRAPH)
    part = QueryPart(shape[2], parse_query_line(f"{shape[0]}?{shape[1]}").params)
    target = cfg.primary if backend == "primary" else cfg.backend(backend)
    return CostModel(cfg).route_cost(part, target, estimate)


def test_each_level_is_priced_by_its_own_fanout() -> None:
    # 10 organizations' patients (4 each) and their Observations (3 each): 120 candidates;
    # the tenant's average of 1.5 references per resource would have said 22
    per_level = PartEstimate(10, fanouts=(4.0, 3.0))
    average = PartEstimate(10, fanout=1.5)
    assert _walk_on("graph", TWO_STEPS, per_level).calls[-1].ids == 120
    assert _walk_on("graph", TWO_STEPS, average).calls[-1].ids == 22
    primary_rows = _walk_on("primary", TWO_STEPS, per_level).calls[0].ids
    assert primary_rows == 10 + 40 + 120  # the terminal matches and every row the joins reach


def test_a_walk_back_to_a_popular_target_is_over_the_id_cap() -> None:
    # one organization holding 5,000 patients: the walk ships them all, the primary joins
    popular = PartEstimate(1, fanouts=(5_000.0, 3.0))
    assert _walk_on("graph", TWO_STEPS, popular).score == math.inf  # never chosen
