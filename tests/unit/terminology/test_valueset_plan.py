"""A ValueSet compose as an expansion plan (pure)."""

from __future__ import annotations

import pytest

from fakes.terminology_data import DISORDERS, is_a, value_set
from polyfhir_core.errors import BadRequest, NotSupported
from polyfhir_terminology.domain.valueset import expansion_plan, split_canonical

pytestmark = pytest.mark.unit


def test_includes_excludes_concepts_filters_and_imports() -> None:
    vs = value_set(
        "http://x/vs",
        [
            {"system": DISORDERS, "concept": [{"code": "TUM", "display": "Neoplasm"}]},
            is_a("INF"),
            {"valueSet": ["http://x/other|2"]},
        ],
        [is_a("VIR")],
    )
    vs["compose"]["inactive"] = False
    plan = expansion_plan(vs)
    assert len(plan.includes) == 3 and len(plan.excludes) == 1
    assert plan.includes[0].concepts[0].display == "Neoplasm"
    assert plan.includes[1].filters[0].op == "is-a"
    assert plan.includes[2].system is None and plan.includes[2].value_sets == ("http://x/other|2",)
    assert plan.systems == {DISORDERS} and plan.value_sets == {"http://x/other|2"}
    assert plan.inactive is False


@pytest.mark.parametrize(
    "op", ["=", "is-a", "descendent-of", "is-not-a", "regex", "in", "not-in", "generalizes"]
)
def test_every_r4_filter_operator_is_planned(op: str) -> None:
    plan = expansion_plan(value_set("u", [is_a("INF", op=op)]))
    assert plan.includes[0].filters[0].op == op


def test_exists_takes_a_boolean() -> None:
    section = {"system": DISORDERS, "filter": [{"property": "x", "op": "exists", "value": "1"}]}
    with pytest.raises(BadRequest):
        expansion_plan(value_set("u", [section]))


def test_an_unknown_filter_operator_is_not_supported() -> None:
    with pytest.raises(NotSupported, match="child-of"):
        expansion_plan(value_set("u", [is_a("INF", op="child-of")]))


def test_a_hierarchy_filter_on_another_property_is_not_supported() -> None:
    section = {
        "system": DISORDERS,
        "filter": [{"property": "severity", "op": "is-a", "value": "x"}],
    }
    with pytest.raises(NotSupported):
        expansion_plan(value_set("u", [section]))


def test_a_section_needs_a_system_or_a_value_set() -> None:
    with pytest.raises(BadRequest):
        expansion_plan(value_set("u", [{"concept": [{"code": "a"}]}]))


def test_in_lists_are_split_on_commas() -> None:
    section = {"system": DISORDERS, "filter": [{"property": "p", "op": "in", "value": "a, b,c"}]}
    assert expansion_plan(value_set("u", [section])).includes[0].filters[0].listed_values() == (
        "a",
        "b",
        "c",
    )


def test_a_value_set_with_only_an_expansion_lists_its_codes() -> None:
    vs = {
        "resourceType": "ValueSet",
        "expansion": {
            "contains": [
                {
                    "system": "s",
                    "code": "a",
                    "display": "A",
                    "contains": [{"system": "s", "code": "b"}],
                }
            ]
        },
    }
    plan = expansion_plan(vs)
    assert [c.code for c in plan.includes[0].concepts] == ["a", "b"]


def test_canonicals_split_their_version() -> None:
    assert split_canonical("http://x|1.0") == ("http://x", "1.0")
    assert split_canonical("http://x") == ("http://x", None)
