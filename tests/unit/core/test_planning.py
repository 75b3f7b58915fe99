"""Query planning: analyzer features, router decisions, merge strategies, merger, advisor."""

from __future__ import annotations

from typing import Any

import pytest

from polyfhir_core.config import CompositeConfig, QueryFeature, parse_config
from polyfhir_core.contracts.search_index import TextField, TextHit, TextHits
from polyfhir_core.errors import BadRequest
from polyfhir_core.planning import (
    BackendState,
    MergeStrategy,
    RouteReason,
    RoutingContext,
    analyze,
    enriched_ids,
    intersection,
    plan_query,
    primary_enriched,
    secondary_filtered,
    union,
)
from polyfhir_core.planning.advisor import (
    WorkloadQuery,
    parse_query_line,
    route_queries,
    suggest,
    validate_document,
)
from polyfhir_core.search import SearchParam, parse_search

pytestmark = pytest.mark.unit

PRIMARY = {"id": "primary", "role": "primary", "kind": "sqlite", "url": "sqlite:///x.db"}
SEARCH = {"id": "search", "role": "search", "kind": "opensearch", "url": "http://os:9200"}
GRAPH = {"id": "graph", "role": "graph", "kind": "neo4j", "url": "neo4j://n:7687"}


def config(*backends: dict[str, Any], **top: Any) -> CompositeConfig:
    return parse_config({"backends": [PRIMARY, *backends], **top})


def plan(rtype: str | None, query: str, cfg: CompositeConfig, **ctx: Any):  # type: ignore[no-untyped-def]
    line = f"{rtype or ''}?{query}"
    return plan_query(analyze(parse_query_line(line)), RoutingContext(cfg, **ctx))


# -- analyzer -------------------------------------------------------------------------


def test_each_parameter_lands_in_its_feature() -> None:
    query = parse_search(
        "Observation",
        [
            ("status", "final"),
            ("subject.name", "peter"),
            ("_has:Observation:patient:code", "x"),
            ("_text", "heart"),
            ("code:text", "glucose"),
            ("code:below", "http://loinc.org|1"),
            ("_include", "Observation:subject"),
            ("_include:iterate", "Patient:organization"),
            ("_sort", "-date"),
        ],
    )
    analysis = analyze(query)
    assert analysis.features == tuple(QueryFeature)
    text = analysis.part(QueryFeature.FULL_TEXT)
    assert text is not None
    assert [p.raw_name for p in text.params] == ["_text", "code:text"]
    assert [(c.field, c.param, c.values) for c in analysis.text_clauses] == [
        (TextField.NARRATIVE, None, ("heart",)),
        (TextField.TOKEN_TEXT, "code", ("glucose",)),
    ]
    assert not analysis.text_only
    assert analysis.complexity > analyze(parse_search("Observation", [("_text", "x")])).complexity


def test_string_text_and_uri_below_are_told_apart_by_parameter_type() -> None:
    analysis = analyze(
        parse_search("ValueSet", [("name:text", "blood"), ("url:below", "http://a.org/fhir")])
    )
    assert analysis.features == (QueryFeature.BASIC, QueryFeature.FULL_TEXT)
    assert analysis.text_clauses[0].field is TextField.STRING
    assert analysis.text_clauses[0].param == "name"


def test_text_only_queries_and_system_type_restriction() -> None:
    analysis = analyze(parse_search(None, [("_type", "Patient,Observation"), ("_content", "a,b")]))
    assert analysis.text_only
    assert analysis.resource_types == ("Patient", "Observation")
    assert analysis.text_clauses[0].values == ("a", "b")
    assert not analyze(parse_search("Patient", [("_text", "a"), ("_sort", "name")])).text_only
    compartment = analyze(parse_search("Observation", [("_text", "a")]))
    assert compartment.text_only


def test_id_restriction_intersects_repeated_id_parameters() -> None:
    analysis = analyze(parse_search("Patient", [("_id", "a,b,c"), ("_id", "b,c,d")]))
    assert analysis.id_restriction == ("b", "c")
    assert analyze(parse_search("Patient", [("name", "x")])).id_restriction is None


# -- router ---------------------------------------------------------------------------


def test_primary_only_config_sends_everything_to_the_primary() -> None:
    result = plan("Patient", "_text=x&name=y", config())
    assert result.strategy is MergeStrategy.PRIMARY_ONLY
    text = result.decision(QueryFeature.FULL_TEXT)
    assert text is not None
    assert text.backend == "primary"
    assert text.reason is RouteReason.NO_BACKEND
    assert result.backends == ("primary",)


def test_full_text_goes_to_the_search_backend_without_a_rule() -> None:
    result = plan("Patient", "_content=fever", config(SEARCH))
    text = result.decision(QueryFeature.FULL_TEXT)
    assert text is not None
    assert (text.backend, text.reason, text.fallback) == (
        "search",
        RouteReason.ROLE_DEFAULT,
        "primary",
    )
    assert result.strategy is MergeStrategy.SECONDARY_FILTERED
    assert result.backends == ("search", "primary")


def test_mixed_queries_are_primary_enriched_or_intersected() -> None:
    cfg = config(SEARCH)
    assert plan("Patient", "_text=x&gender=male", cfg).strategy is MergeStrategy.PRIMARY_ENRICHED
    assert plan("Patient", "_text=x&_id=a", cfg).strategy is MergeStrategy.INTERSECTION
    assert plan("Patient", "_text=x&_sort=name", cfg).strategy is MergeStrategy.PRIMARY_ENRICHED


def test_system_search_with_other_filters_keeps_full_text_on_the_primary() -> None:
    result = plan(None, "_content=x&_lastUpdated=gt2020", config(SEARCH))
    text = result.decision(QueryFeature.FULL_TEXT)
    assert text is not None
    assert (text.backend, text.reason) == ("primary", RouteReason.SYSTEM_SEARCH)
    assert result.strategy is MergeStrategy.PRIMARY_ONLY


@pytest.mark.parametrize(
    ("state", "reason"),
    [(BackendState.UNHEALTHY, RouteReason.UNHEALTHY), (BackendState.LAGGING, RouteReason.LAGGING)],
)
def test_unusable_search_backend_is_bypassed(state: BackendState, reason: RouteReason) -> None:
    result = plan("Patient", "_text=x", config(SEARCH), states={"search": state})
    text = result.decision(QueryFeature.FULL_TEXT)
    assert text is not None
    assert (text.backend, text.reason) == ("primary", reason)
    assert result.strategy is MergeStrategy.PRIMARY_ONLY


def test_a_rule_without_fallback_fails_when_its_target_is_down() -> None:
    rule = {
        "name": "ft",
        "match": {"features": ["full_text"]},
        "target": "search",
        "fallback": None,
    }
    result = plan(
        "Patient", "_text=x", config(SEARCH, routing=[rule]), states={"search": "unhealthy"}
    )
    text = result.decision(QueryFeature.FULL_TEXT)
    assert text is not None
    assert (text.backend, text.reason, text.fallback) == ("search", RouteReason.NO_FALLBACK, None)
    assert result.fallbacks == {"search": "fails the search (503)"}


def test_rules_are_matched_by_type_and_parameter_and_can_pin_the_primary() -> None:
    rules = [
        {
            "name": "obs",
            "match": {"features": ["full_text"], "resource_types": ["Observation"]},
            "target": "primary",
            "priority": 5,
        },
        {"name": "any", "match": {"features": ["full_text"]}, "target": "search"},
    ]
    cfg = config(SEARCH, routing=rules)
    obs = plan("Observation", "_text=x", cfg).decision(QueryFeature.FULL_TEXT)
    pat = plan("Patient", "_text=x", cfg).decision(QueryFeature.FULL_TEXT)
    assert obs is not None and pat is not None
    assert (obs.backend, obs.rule) == ("primary", "obs")
    assert (pat.backend, pat.rule) == ("search", "any")


def test_a_rule_sends_even_a_one_step_chain_to_the_graph() -> None:
    rule = {"name": "chains", "match": {"features": ["chain"]}, "target": "graph"}
    result = plan("Observation", "subject:Patient.name=x", config(GRAPH, routing=[rule]))
    chain = result.decision(QueryFeature.CHAIN)
    assert chain is not None
    assert (chain.backend, chain.reason, chain.fallback) == ("graph", RouteReason.RULE, "primary")
    assert result.strategy is MergeStrategy.PRIMARY_ENRICHED
    assert result.backends == ("graph", "primary")


def test_without_a_rule_a_one_step_walk_is_the_primary_s() -> None:
    cfg = config(GRAPH)
    for query, feature in (
        ("subject:Patient.name=x", QueryFeature.CHAIN),
        ("_has:Observation:subject:code=x", QueryFeature.HAS),
    ):
        decision = plan("Patient" if "_has" in query else "Observation", query, cfg).decision(
            feature
        )
        assert decision is not None
        assert (decision.backend, decision.reason) == ("primary", RouteReason.PRIMARY_CHEAPER)


DEAR_JOINS = {
    "roles": {"primary": {"latency_ms": 3, "features": {"chain": 8, "has": 8, "full_text": 10}}}
}


def test_without_a_rule_deeper_walks_go_to_the_graph_when_it_is_cheaper() -> None:
    cfg = config(GRAPH, cost=DEAR_JOINS)
    chain = plan("Observation", "subject:Patient.organization.name=x&status=final", cfg)
    nested = plan("Patient", "_has:Observation:subject:_has:AuditEvent:entity:type=x", cfg)
    for result, feature in ((chain, QueryFeature.CHAIN), (nested, QueryFeature.HAS)):
        decision = result.decision(feature)
        assert decision is not None
        assert (decision.backend, decision.reason) == ("graph", RouteReason.ROLE_DEFAULT)
    assert chain.strategy is MergeStrategy.PRIMARY_ENRICHED
    with_id = plan("Observation", "subject:Patient.organization.name=x&_id=a,b", cfg)
    assert with_id.strategy is MergeStrategy.INTERSECTION


def test_full_text_on_the_search_backend_and_a_walk_on_the_graph_combine() -> None:
    result = plan(
        "Observation",
        "_text=x&subject:Patient.organization.name=y",
        config(SEARCH, GRAPH, cost=DEAR_JOINS),
    )
    chain = result.decision(QueryFeature.CHAIN)
    text = result.decision(QueryFeature.FULL_TEXT)
    assert chain is not None and (chain.backend, chain.reason) == (
        "graph",
        RouteReason.ROLE_DEFAULT,
    )
    assert text is not None and text.backend == "search"
    assert result.strategy is MergeStrategy.PRIMARY_ENRICHED
    assert result.backends == ("graph", "search", "primary")
    assert any("intersected" in note for note in result.notes)


def test_an_unhealthy_graph_leaves_walks_to_the_primary() -> None:
    result = plan(
        "Observation",
        "subject:Patient.organization.name=x",
        config(GRAPH),
        states={"graph": BackendState.UNHEALTHY},
    )
    chain = result.decision(QueryFeature.CHAIN)
    assert chain is not None and (chain.backend, chain.reason) == ("primary", RouteReason.UNHEALTHY)


def test_estimates_above_the_id_cap_keep_mixed_queries_on_the_primary() -> None:
    cfg = config(SEARCH, cost={"max_shipped_ids": 100})
    big = {QueryFeature.FULL_TEXT: 5_000}
    mixed = plan("Patient", "_text=x&gender=male", cfg, estimates=big)
    text = mixed.decision(QueryFeature.FULL_TEXT)
    assert text is not None
    assert (text.backend, text.reason, text.estimated_ids) == (
        "primary",
        RouteReason.OVER_ID_CAP,
        5_000,
    )
    alone = plan("Patient", "_text=x", cfg, estimates=big)
    assert alone.strategy is MergeStrategy.SECONDARY_FILTERED
    small = plan("Patient", "_text=x&gender=male", cfg, estimates={QueryFeature.FULL_TEXT: 10})
    decision = small.decision(QueryFeature.FULL_TEXT)
    assert decision is not None
    assert decision.backend == "search"
    assert decision.estimated_ms is not None


def test_plan_json_names_parts_routes_strategy_and_freshness() -> None:
    cfg = config(SEARCH, sync={"max_read_lag_ms": 0})
    body = plan("Patient", "_text=x&gender=male&_include=Patient:organization", cfg).to_json()
    assert body["features"] == ["basic", "full_text", "include"]
    assert body["strategy"] == "primary_enriched"
    assert body["parts"][1]["route"]["backend"] == "search"
    assert body["parts"][1]["query"] == ["_text=x"]
    assert any("waits up to 0 ms" in n for n in body["notes"])
    hybrid = config(SEARCH, sync={"mode": "hybrid"})
    notes = plan("Patient", "_text=x", hybrid).to_json()["notes"]
    assert any("read-your-writes" in n for n in notes)


# -- merger ---------------------------------------------------------------------------


def hits(*keys: str, total: int | None = None) -> TextHits:
    found = tuple(
        TextHit(k.split("/")[0], k.split("/")[1], 1.0 / (i + 1)) for i, k in enumerate(keys)
    )
    return TextHits(found, total if total is not None else len(found))


def test_intersection_and_union_keep_first_appearance_order() -> None:
    assert intersection(["c", "a", "b", "a"], ["a", "b", "c"], ["b", "c"]) == ["c", "b"]
    assert union(["b", "a"], ["c", "a"], []) == ["b", "a", "c"]
    assert intersection([]) == []


def test_secondary_filtered_pages_over_hits_in_score_order() -> None:
    found = hits("Patient/3", "Patient/1", "Patient/2", total=3)
    first = secondary_filtered(found, 0, 2)
    assert [str(k) for k in first.keys] == ["Patient/3", "Patient/1"]
    assert (first.total, first.next_offset) == (3, 2)
    last = secondary_filtered(found, 2, 2)
    assert [str(k) for k in last.keys] == ["Patient/2"]
    assert last.next_offset is None
    count_only = secondary_filtered(found, 0, 0)
    assert (count_only.keys, count_only.total, count_only.next_offset) == ((), 3, None)


def test_primary_enriched_replaces_full_text_by_an_id_restriction() -> None:
    analysis = analyze(
        parse_search("Patient", [("_text", "x"), ("gender", "male"), ("_id", "2,3,9")])
    )
    ids = enriched_ids(analysis, hits("Patient/1", "Patient/2", "Observation/3", "Patient/3"))
    assert ids == ["2", "3"]
    query = primary_enriched(analysis, ids)
    assert query.params == (SearchParam("gender", ("male",)), SearchParam("_id", ("2", "3")))
    with pytest.raises(ValueError, match="at least one id"):
        primary_enriched(analysis, [])


# -- advisor --------------------------------------------------------------------------


def test_query_lines_parse_typed_and_system_searches() -> None:
    assert parse_query_line("/Patient?name=x").resource_type == "Patient"
    assert parse_query_line("?_content=x").resource_type is None
    with pytest.raises(BadRequest):
        parse_query_line("Nope?x=1")


def test_route_queries_simulates_health_states() -> None:
    cfg = config(SEARCH)
    healthy, down = (
        route_queries(["Patient?_text=x"], cfg, states=s)[0]
        for s in ({}, {"search": BackendState.UNHEALTHY})
    )
    assert healthy["backends"] == ["search", "primary"]
    assert down["backends"] == ["primary"]
    assert down["parts"][0]["route"]["reason"] == "unhealthy"


def test_validate_document_reports_problems_and_warnings() -> None:
    bad = validate_document({"backends": [SEARCH]})
    assert bad["valid"] is False
    assert bad["problems"]
    good = validate_document({"backends": [PRIMARY]})
    assert good["valid"] is True
    assert [w["code"] for w in good["warnings"]] == ["no_secondaries"]
    with pytest.raises(BadRequest):
        validate_document([1])


def test_suggest_recommends_a_search_backend_for_a_text_heavy_workload() -> None:
    workload = [
        WorkloadQuery("Patient?_text=fever", 60),
        WorkloadQuery("Observation?_content=glucose&status=final", 20),
        WorkloadQuery("Patient?identifier=x", 20),
    ]
    advice = suggest(workload, config())
    search = next(s for s in advice["suggestions"] if s["role"] == "search")
    assert search["advice"] == "add"
    assert search["share"] == 0.8
    assert search["routingRule"]["target"] == "search"
    assert "60.0%" in search["reason"]
    graph = next(s for s in advice["suggestions"] if s["role"] == "graph")
    assert graph["advice"] == "not_needed"
    kept = suggest(workload, config(SEARCH))
    assert next(s for s in kept["suggestions"] if s["role"] == "search")["advice"] == "keep"
    with pytest.raises(BadRequest):
        suggest([WorkloadQuery("Patient?x=1", 0)], config())
