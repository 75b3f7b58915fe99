"""Chains and _has split into the primary's terminal filter and the graph's walk (pure)."""

from __future__ import annotations

import pytest

from polyfhir_core.contracts.graph_index import ChainStep, ChainWalk, HasStep, HasWalk
from polyfhir_core.planning.reference_walks import (
    candidates_query,
    chain_walk,
    has_walk,
    reference_walks,
)
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_core.search import SearchParam, SearchQuery

pytestmark = pytest.mark.unit
REGISTRY = SearchParameterRegistry.default()


def test_a_typed_chain_of_two_steps() -> None:
    p = SearchParam("subject", ("Acme",), "Patient.organization.name")
    walk = chain_walk("Observation", p, REGISTRY)
    assert walk is not None
    assert walk.chain == (
        ChainStep("subject", "Patient"),
        ChainStep("organization", "Organization"),
    )
    assert (walk.terminal_type, walk.terminal) == ("Organization", SearchParam("name", ("Acme",)))
    assert walk.terminal_query(100) == SearchQuery(
        "Organization", (SearchParam("name", ("Acme",)),), count=100, elements=("id",)
    )
    assert walk.walk("Observation", ("o1",), 10) == ChainWalk(
        "Observation", walk.chain, ("o1",), 10
    )


def test_a_restricted_parameter_types_its_step_and_the_terminal_keeps_its_modifier() -> None:
    p = SearchParam("patient.organization.name:exact", ("Acme",))
    walk = chain_walk("Observation", p, REGISTRY)
    assert walk is not None
    assert walk.chain[0] == ChainStep("patient", "Patient")
    assert walk.terminal == SearchParam("name", ("Acme",), "exact")


@pytest.mark.parametrize(
    "param",
    [
        SearchParam("subject.name", ("x",)),  # subject: Patient, Group, Device, Location...
        SearchParam("subject", ("x",), "Patient.nope"),  # no such parameter on Patient
        SearchParam("status.name", ("x",)),  # not a reference
        SearchParam("patient", ("x",), "Group.name"),  # patient references Patients only
    ],
)
def test_what_cannot_be_walked_with_typed_targets(param: SearchParam) -> None:
    assert chain_walk("Observation", param, REGISTRY) is None


def test_nested_has_walks_from_the_innermost_filter() -> None:
    p = SearchParam("_has", ("login",), "Observation:subject:_has:AuditEvent:entity:type")
    walk = has_walk("Patient", p, REGISTRY)
    assert walk is not None
    assert walk.has == (HasStep("Observation", "subject"), HasStep("AuditEvent", "entity"))
    assert (walk.terminal_type, walk.terminal) == ("AuditEvent", SearchParam("type", ("login",)))
    assert walk.walk("Patient", ("e1",), 5) == HasWalk("Patient", walk.has, ("e1",), 5)


def test_a_chain_inside_has_is_the_primary_s_terminal() -> None:
    p = SearchParam("_has", ("Smith",), "Observation:subject:performer:Practitioner.name")
    walk = has_walk("Patient", p, REGISTRY)
    assert walk is not None
    assert walk.terminal == SearchParam("performer", ("Smith",), "Practitioner.name")


def test_a_has_whose_reference_cannot_point_at_the_searched_type() -> None:
    p = SearchParam("_has", ("x",), "Observation:subject:code")
    assert has_walk("Organization", p, REGISTRY) is None
    assert reference_walks("Organization", (p,), REGISTRY) is None
    assert reference_walks(None, (p,), REGISTRY) is None


def test_the_rest_of_the_query_is_restricted_to_the_candidates_and_its_own_id() -> None:
    chain = SearchParam("subject", ("Acme",), "Patient.organization.name")
    query = SearchQuery(
        "Observation",
        (chain, SearchParam("status", ("final",)), SearchParam("_id", ("a", "b"))),
        count=5,
    )
    walks = reference_walks("Observation", (chain,), REGISTRY)
    assert walks is not None
    restricted = candidates_query(query, walks, ["b", "c"])
    assert restricted.params == (SearchParam("status", ("final",)), SearchParam("_id", ("b",)))
    assert restricted.count == 5


def test_an_untyped_step_becomes_one_walk_per_target_type_that_has_the_terminal() -> None:
    from polyfhir_core.planning.reference_walks import walk_alternatives, walk_groups

    untyped = SearchParam("subject.name", ("x",))  # Patient, Group, Device, Location...
    walks = walk_alternatives("Observation", untyped, REGISTRY)
    assert walks is not None
    # Group and Device have no `name` parameter: no walk through them can match
    assert {w.terminal_type for w in walks} == {"Patient", "Location"}
    assert all(w.chain[0].param == "subject" and w.depth == 1 for w in walks)
    typed = SearchParam("subject:Patient.name", ("x",))
    groups = walk_groups("Observation", (untyped, typed), REGISTRY)
    assert groups is not None and [len(g) for g in groups] == [len(walks), 1]
    assert walk_alternatives("Observation", SearchParam("status.name", ("x",)), REGISTRY) is None


def test_an_untyped_chain_plans_a_union_of_its_typed_walks() -> None:
    from polyfhir_core.config import parse_config
    from polyfhir_core.planning import MergeStrategy, RoutingContext, analyze, plan_query
    from polyfhir_core.planning.advisor import parse_query_line

    cfg = parse_config(
        {
            "backends": [
                {"id": "primary", "role": "primary", "kind": "sqlite", "url": "sqlite:///x"},
                {"id": "graph", "role": "graph", "kind": "neo4j", "url": "neo4j://n:7687"},
            ],
            "routing": [{"name": "c", "match": {"features": ["chain"]}, "target": "graph"}],
        }
    )
    ctx = RoutingContext(cfg)
    untyped = plan_query(analyze(parse_query_line("Observation?subject.name=x")), ctx)
    typed = plan_query(analyze(parse_query_line("Observation?subject:Patient.name=x")), ctx)
    assert untyped.strategy is MergeStrategy.UNION
    assert any("united (union)" in n for n in untyped.notes)
    assert typed.strategy is MergeStrategy.PRIMARY_ENRICHED
