"""Composite extraction: component rows of one element stay together (no I/O)."""

from __future__ import annotations

import pytest

from polyfhir_core.indexing import extract_index_values
from polyfhir_core.indexing.composite_params import component_types
from polyfhir_core.registry import SearchParameterRegistry, SearchParamType

pytestmark = pytest.mark.unit

LOINC = "http://loinc.org"


def _component(code: str, value: float) -> dict[str, object]:
    return {
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "valueQuantity": {"value": value, "code": "mm[Hg]"},
    }


def test_each_component_element_keeps_its_code_and_value() -> None:
    registry = SearchParameterRegistry.default()
    panel = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
        "component": [_component("8480-6", 150), _component("8462-4", 95)],
    }
    values = extract_index_values(panel, registry)
    pairs = {
        (c.elem, c.values.tokens[0].code, float(c.values.quantities[0].value))
        for c in values.composites
        if c.values.tokens[0].param == "component-code-value-quantity$0"
    }
    assert pairs == {(0, "8480-6", 150.0), (1, "8462-4", 95.0)}
    # the panel itself has no value: no code-value-quantity element at all
    assert not [
        c for c in values.composites if c.values.tokens[0].param.startswith("code-value-quantity")
    ]


def test_elements_keep_their_position_when_an_earlier_one_has_no_value() -> None:
    registry = SearchParameterRegistry.default()
    obs = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
        "valueQuantity": {"value": 1, "code": "1"},
        "component": [
            {"code": {"coding": [{"system": LOINC, "code": "8480-6"}]}},  # no value
            _component("8462-4", 95),
        ],
    }
    values = extract_index_values(obs, registry)
    elements = {
        (c.values.tokens[0].param.split("$")[0], c.elem, c.values.tokens[0].code)
        for c in values.composites
        if c.values.tokens
    }
    # code-value-quantity is of the Observation itself: its code is ``code``'s rows
    (root,) = [c for c in values.composites if not c.values.tokens]
    assert [q.param for q in root.values.quantities] == ["code-value-quantity$1"]
    assert ("component-code-value-quantity", 1, "8462-4") in elements
    assert ("combo-code-value-quantity", 0, "85354-9") in elements
    assert ("combo-code-value-quantity", 2, "8462-4") in elements  # element 1 has no value
    assert not [e for e in elements if e[2] == "8480-6"]


def test_composites_with_reference_or_resource_relative_components_are_not_indexed() -> None:
    registry = SearchParameterRegistry.default()
    unsupported = {
        d.code
        for d in registry.definitions()
        if d.type == SearchParamType.COMPOSITE and component_types(d, registry) is None
    }
    assert unsupported == {
        "relationship",
        "chromosome-variant-coordinate",
        "referenceseqid-variant-coordinate",
    }
