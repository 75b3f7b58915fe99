"""A CodeSystem as rows (pure): concepts and their flags, designations, properties, closure."""

from __future__ import annotations

import pytest

from fakes.terminology_data import disorders
from polyfhir_terminology.domain.codesystem import closure_pairs, code_system_rows

pytestmark = pytest.mark.unit


def _below(pairs: list[tuple[str, str]], code: str) -> set[str]:
    return {d for a, d in pairs if a == code}


def test_concepts_carry_display_definition_and_flags() -> None:
    rows = code_system_rows(disorders())
    by_code = {c.code: c for c in rows.concepts}
    assert set(by_code) == {"DIS", "INF", "BAC", "STREP", "VIR", "FLU", "TUM", "COVID"}
    assert by_code["INF"].definition == "Invasion by pathogens"
    assert by_code["DIS"].abstract and not by_code["INF"].abstract
    assert by_code["FLU"].inactive and not by_code["VIR"].inactive
    assert (rows.url, rows.version, rows.name) == (disorders()["url"], "1", "Disorders")


def test_nesting_and_parent_properties_build_the_is_a_closure() -> None:
    rows = code_system_rows(disorders())
    assert _below(rows.closure, "INF") == {"INF", "BAC", "STREP", "VIR", "FLU", "COVID"}
    assert _below(rows.closure, "VIR") == {"VIR", "FLU", "COVID"}  # COVID by its parent property
    assert _below(rows.closure, "STREP") == {"STREP"}
    assert ("DIS", "STREP") in rows.closure  # transitively
    assert ("COVID", "COVID") in rows.closure


def test_nesting_parents_are_kept_as_parent_properties() -> None:
    rows = code_system_rows(disorders())
    parents = {(p.code, p.text) for p in rows.properties if p.property == "parent"}
    assert ("STREP", "BAC") in parents and ("COVID", "VIR") in parents
    assert sum(1 for p in rows.properties if p.code == "COVID" and p.property == "parent") == 1
    severity = {p.code: p.value for p in rows.properties if p.property == "severity"}
    assert severity["TUM"] == {"valueCode": "high"}


def test_designations_are_rows_of_their_concept() -> None:
    rows = code_system_rows(disorders())
    assert {(d.code, d.language, d.value) for d in rows.designations} == {
        ("BAC", "de", "Bakterielle Infektion"),
        ("COVID", None, "COVID-19"),
    }


@pytest.mark.parametrize("meaning", ["grouped-by", "part-of", "classified-with"])
def test_a_hierarchy_that_is_not_is_a_subsumes_nothing(meaning: str) -> None:
    rows = code_system_rows(disorders(hierarchyMeaning=meaning))
    assert _below(rows.closure, "INF") == {"INF"}
    parents = {(p.code, p.text) for p in rows.properties if p.property == "parent"}
    assert ("BAC", "INF") in parents  # the tree is still there for $lookup


def test_subsumed_by_is_is_a_whatever_the_hierarchy_means() -> None:
    cs = {
        "url": "http://x",
        "hierarchyMeaning": "grouped-by",
        "concept": [
            {"code": "a"},
            {"code": "b", "property": [{"code": "subsumedBy", "valueCode": "a"}]},
        ],
    }
    assert _below(code_system_rows(cs).closure, "a") == {"a", "b"}


def test_a_code_system_without_url_is_refused() -> None:
    with pytest.raises(ValueError, match="without url"):
        code_system_rows({"resourceType": "CodeSystem", "concept": []})


def test_the_closure_of_a_deep_chain_is_every_pair_once() -> None:
    depth = 2_000  # deeper than Python's recursion limit
    parents = {f"c{i}": {f"c{i - 1}"} if i else set() for i in range(depth)}
    pairs = list(closure_pairs(parents))
    assert len(pairs) == depth * (depth + 1) // 2
    assert len(set(pairs)) == len(pairs)


def test_a_cycle_does_not_hang_the_closure() -> None:
    parents = {"a": {"b"}, "b": {"a"}, "c": {"a"}}
    pairs = set(closure_pairs(parents))
    assert {("a", "a"), ("b", "b"), ("c", "c"), ("a", "c")} <= pairs
    assert ("b", "a") in pairs or ("a", "b") in pairs
