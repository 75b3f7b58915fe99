"""Compiling searches: query string -> SearchPlan (no database)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from urllib.parse import parse_qsl

import pytest

from polyfhir_core.errors import BadRequest, NotFound, NotSupported
from polyfhir_core.registry import SearchParameterRegistry, SearchParamType
from polyfhir_core.search import parse_search
from polyfhir_primary.search import CompiledSearch, Limits, compile_search, require_all_applied
from polyfhir_primary.search.plan import (
    ANY,
    DEFAULT_SORT,
    CompartmentClause,
    CompositeClause,
    Criteria,
    HasClause,
    IdClause,
    MissingClause,
    NumberClause,
    NumberMatch,
    ReferenceClause,
    ReferenceMatch,
    SortField,
    StringClause,
    TokenClause,
    TokenMatch,
)

REGISTRY = SearchParameterRegistry.default()


def compiled(
    rtype: str | None, query: str, limits: Limits | None = None, compartment: str | None = None
) -> CompiledSearch:
    parsed = parse_search(rtype, parse_qsl(query, keep_blank_values=True))
    if compartment is not None:
        ctype, _, cid = compartment.partition("/")
        parsed = replace(parsed, compartment=(ctype, cid))
    return compile_search(parsed, REGISTRY, limits or Limits(), "http://fhir.example/r4")


def test_values_and_modifiers_become_typed_clauses() -> None:
    plan = compiled("Patient", "name=Müller&gender:not=male&identifier=http://mrn|A1,|B2").plan
    assert plan.resource_types == ("Patient",)
    assert plan.clauses == (
        StringClause("name", ("muller",)),
        TokenClause("gender", (TokenMatch(ANY, "male"),), negate=True),
        TokenClause("identifier", (TokenMatch("http://mrn", "A1"), TokenMatch(None, "B2"))),
    )


def test_a_quantity_keeps_its_implicit_precision_and_units() -> None:
    (clause,) = compiled(
        "Observation", "value-quantity=gt5.4|http://unitsofmeasure.org|mg"
    ).plan.clauses
    assert clause == NumberClause(
        "value-quantity",
        (
            NumberMatch(
                "gt",
                Decimal("5.4"),
                Decimal("5.35"),
                Decimal("5.45"),
                "http://unitsofmeasure.org",
                "mg",
            ),
        ),
        quantity=True,
    )


def test_references_are_read_relative_to_the_base() -> None:
    plan = compiled("Observation", "subject=http://fhir.example/r4/Patient/p1,Group/g1").plan
    assert plan.clauses == (
        ReferenceClause(
            "subject", (ReferenceMatch("Patient", "p1"), ReferenceMatch("Group", "g1"))
        ),
    )


def test_a_restricted_parameter_reads_the_rows_it_shares() -> None:
    # ``patient`` is ``subject`` restricted to Patients: it has no rows of its own
    (clause,) = compiled("Observation", "patient=ann").plan.clauses
    assert clause == ReferenceClause("subject", (ReferenceMatch(None, "ann"),), ("Patient",))


def test_chains_nest_criteria_on_the_target() -> None:
    (clause,) = compiled("Observation", "subject:Patient.organization.name=acme").plan.clauses
    inner = ReferenceClause(
        "organization",
        target_types=("Organization",),
        chain=Criteria(("Organization",), (StringClause("name", ("acme",)),)),
    )
    assert clause == ReferenceClause(
        "subject", target_types=("Patient",), chain=Criteria(("Patient",), (inner,))
    )


def test_chains_are_limited_in_depth() -> None:
    with pytest.raises(BadRequest, match="limited to 1 levels"):
        compiled(
            "Observation",
            "subject:Patient.organization.name=acme",
            Limits(max_chain_depth=1),
        )


def test_has_nests_criteria_on_the_referring_resource() -> None:
    (clause,) = compiled("Patient", "_has:Observation:patient:code=2339-0").plan.clauses
    assert clause == HasClause(
        "Observation",
        "subject",
        Criteria(("Observation",), (TokenClause("code", (TokenMatch(ANY, "2339-0"),)),)),
        target_type="Patient",
    )


def test_a_malformed_has_is_a_bad_request() -> None:
    with pytest.raises(BadRequest, match="expected _has:Type:reference-param:param"):
        compiled("Patient", "_has:Observation:code=1")
    with pytest.raises(BadRequest, match="is not a reference parameter"):
        compiled("Patient", "_has:Observation:code:status=final")


def test_missing_names_the_parameter_type_not_a_table() -> None:
    (clause,) = compiled("Patient", "name:missing=true").plan.clauses
    assert clause == MissingClause(SearchParamType.STRING, "name", missing=True)
    with pytest.raises(BadRequest, match="takes true or false"):
        compiled("Patient", "name:missing=maybe")


def test_composites_name_their_component_types() -> None:
    (clause,) = compiled("Observation", "component-code-value-quantity=8480-6$gt100").plan.clauses
    assert isinstance(clause, CompositeClause)
    assert clause.kinds == (SearchParamType.TOKEN, SearchParamType.QUANTITY)
    assert not clause.root
    with pytest.raises(BadRequest, match="expected 2 components"):
        compiled("Observation", "component-code-value-quantity=8480-6")


def test_sort_by_parameters_then_the_default_order() -> None:
    plan = compiled("Patient", "_sort=-birthdate,_id").plan
    assert plan.sort == (
        SortField("birthdate", True, "birthdate", SearchParamType.DATE),
        SortField("_id"),
        *DEFAULT_SORT,
    )
    assert compiled("Patient", "").plan.sort == DEFAULT_SORT
    with pytest.raises(BadRequest, match="not a sortable"):
        compiled("Patient", "_sort=nope")


def test_count_total_and_paging() -> None:
    plan = compiled("Patient", "_count=5000&_offset=40&_total=estimate").plan
    assert (plan.limit, plan.offset, plan.count_total, plan.estimate_total) == (
        1000,
        40,
        True,
        True,
    )
    none = compiled("Patient", "_total=none").plan
    assert (none.count_total, none.estimate_total) == (False, False)
    summary = compiled("Patient", "_summary=count&_total=estimate").plan
    assert (summary.count_total, summary.estimate_total) == (True, False)


def test_unknown_parameters_are_ignored_or_refused() -> None:
    search = compiled("Patient", "nope=1&_id=p1")
    assert search.plan.clauses == (IdClause(("p1",)),)
    assert [p.raw_name for p in search.ignored] == ["nope"]
    with pytest.raises(NotSupported, match="nope"):
        require_all_applied(search, "conditional create")


def test_empty_values_are_bad_requests() -> None:
    with pytest.raises(BadRequest, match="empty value"):
        compiled("Patient", "name=")


def test_system_search_by_type() -> None:
    assert compiled(None, "_type=Patient,Observation").plan.resource_types == (
        "Patient",
        "Observation",
    )
    with pytest.raises(BadRequest, match="unknown resource type"):
        compiled(None, "_type=Nope")


def test_compartments() -> None:
    (clause,) = compiled("Observation", "", compartment="Patient/ann").plan.clauses
    assert isinstance(clause, CompartmentClause)
    assert (clause.target_type, clause.target_id, clause.include_self) == ("Patient", "ann", False)
    assert "subject" in clause.params
    own = compiled("Patient", "", compartment="Patient/ann").plan.clauses[0]
    assert isinstance(own, CompartmentClause) and own.include_self
    with pytest.raises(NotFound, match="not a compartment"):
        compiled("Observation", "", compartment="Observation/o1")
