"""Index extraction: the fast path agrees with fhirpathpy; rows follow search.html."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from polyfhir_core.indexing import extract_index_values
from polyfhir_core.indexing.composite_params import composite_indexer
from polyfhir_core.indexing.converters import CONVERTERS, reference_identifier
from polyfhir_core.indexing.index_values import IndexValues
from polyfhir_core.indexing.paths import compile_expression, is_fast, top_level_keys
from polyfhir_core.registry import (
    SearchParamDef,
    SearchParameterRegistry,
    SearchParamType,
    definition_from_json,
)
from polyfhir_core.resource_validation import RESOURCE_TYPES

pytestmark = pytest.mark.unit

EXAMPLES = sorted((Path(__file__).parent / "data" / "r4-examples").glob("*.json"))
REGISTRY = SearchParameterRegistry.default()


def _load(path: Path) -> dict[str, Any]:
    resource: dict[str, Any] = orjson.loads(path.read_bytes())
    return resource


def test_registry_holds_every_official_definition() -> None:
    assert len(list(REGISTRY.definitions())) == 1375
    code = REGISTRY.get("Observation", "code")
    assert code is not None and code.type == SearchParamType.TOKEN
    # a shared definition only contributes its own branch to each type
    assert REGISTRY.expression("Observation", code) == "Observation.code"
    assert REGISTRY.get("Patient", "_tag") is REGISTRY.get("Observation", "_tag")
    assert REGISTRY.get("Patient", "no-such-param") is None


def test_every_official_expression_has_a_branch_for_each_base() -> None:
    missing = [
        (rtype, d.code)
        for rtype in RESOURCE_TYPES
        for d in REGISTRY.for_type(rtype).values()
        if d.expression and not REGISTRY.expression(rtype, d)
    ]
    assert missing == []


def test_every_official_expression_takes_the_fast_path() -> None:
    slow = {e for rtype in RESOURCE_TYPES for _, e in REGISTRY.indexed_for(rtype) if not is_fast(e)}
    assert slow == set()


@pytest.mark.parametrize(
    ("deceased", "expected"),
    [({}, False), ({"deceasedBoolean": False}, False), ({"deceasedBoolean": True}, True),
     ({"deceasedDateTime": "2020-01-02"}, True)],
)  # fmt: skip
def test_boolean_expression_matches_fhirpath(deceased: dict[str, Any], expected: bool) -> None:
    expression = "Patient.deceased.exists() and Patient.deceased != false"
    patient = {"resourceType": "Patient", **deceased}
    fast = [n.value for n in compile_expression(expression)(patient)]
    assert fast == [n.value for n in compile_expression(expression, general=True)(patient)]
    assert fast == [expected]


def _rows(resource: dict[str, Any]) -> tuple[IndexValues, IndexValues, int]:
    fast, general, compared = IndexValues(), IndexValues(), 0
    for definition, expression in REGISTRY.indexed_for(resource["resourceType"]):
        convert = CONVERTERS.get(definition.type)
        if convert is None or "resolve()" in expression:
            continue  # fhirpathpy has no resolve(); those branches are fast-path only
        try:
            general_nodes = compile_expression(expression, general=True)(resource)
        except ValueError:
            # R4 writes ``(X.y as T)`` meaning "each y of type T"; strict FHIRPath
            # rejects ``as`` on several items. The fast path applies it per item.
            continue
        compared += 1
        for node in general_nodes:
            convert(definition.code, node, general)
        for node in compile_expression(expression)(resource):
            convert(definition.code, node, fast)
    return fast.dedupe(), general.dedupe(), compared


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_fast_path_rows_equal_fhirpathpy_rows(path: Path) -> None:
    fast, general, compared = _rows(_load(path))
    assert compared > 0
    assert fast == general


def _every_parameter(resource: dict[str, Any]) -> IndexValues:
    """Every indexed parameter evaluated, none skipped for lack of a top-level key."""
    out = IndexValues()
    for definition, expression in REGISTRY.indexed_for(resource["resourceType"]):
        if definition.type == SearchParamType.COMPOSITE:
            composite = composite_indexer(
                definition, expression, REGISTRY, resource["resourceType"]
            )
            if composite is not None:
                composite.extract(resource, out)
        elif (convert := CONVERTERS.get(definition.type)) is not None:
            if REGISTRY.storage(resource["resourceType"], definition.code) is not None:
                # rows of other parameters (``Storage``): a reference keeps its :identifier
                if definition.type != SearchParamType.REFERENCE:
                    continue
                convert = reference_identifier
            for node in compile_expression(expression)(resource):
                convert(definition.code, node, out)
    return out.dedupe()


def _own_rows(resource: dict[str, Any], code: str) -> IndexValues:
    """The rows parameter ``code``'s own expression gives, named ``x``."""
    rtype = resource["resourceType"]
    definition = REGISTRY.get(rtype, code)
    assert definition is not None
    expression = REGISTRY.expression(rtype, definition)
    out = IndexValues()
    if expression:
        for node in compile_expression(expression)(resource):
            CONVERTERS[definition.type]("x", node, out)
    return out.dedupe()


_OBSERVATION = {"resourceType": "Observation", "status": "final", "code": {"text": "x"}}
# subjects the official examples lack: another type, a logical reference with a type,
# an absolute URL, a versioned reference, a contained one; and components
_EDGES = [
    {**_OBSERVATION, "subject": {"reference": "Group/g1"}},
    {**_OBSERVATION, "subject": {"type": "Patient", "identifier": {"system": "s", "value": "1"}}},
    {**_OBSERVATION, "subject": {"identifier": {"value": "2"}}},
    {**_OBSERVATION, "subject": {"reference": "https://other.example/fhir/Patient/9"}},
    {**_OBSERVATION, "subject": {"reference": "Patient/p1/_history/2"}},
    {**_OBSERVATION, "subject": {"reference": "#contained"}},
    {
        **_OBSERVATION,
        "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
        "valueQuantity": {"value": 1, "system": "http://unitsofmeasure.org", "code": "mm"},
        "component": [
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                "valueQuantity": {"value": 120, "unit": "mm[Hg]"},
            },
            {"code": {"text": "absent"}, "dataAbsentReason": {"text": "unknown"}},
        ],
    },
]


@pytest.mark.parametrize(
    "resource",
    [*map(_load, EXAMPLES), *_EDGES],
    ids=[*(p.stem for p in EXAMPLES), *(f"edge-{n}" for n in range(len(_EDGES)))],
)
def test_a_parameter_stored_as_others_rows_has_exactly_their_rows(
    resource: dict[str, Any],
) -> None:
    """``patient`` (``subject.where(resolve() is Patient)``) gets no rows: searches read
    ``subject``'s rows that reference a Patient. ``combo-code`` reads ``code``'s and
    ``component-code``'s. Over every official example, those rows are exactly the rows
    the parameter's own expression gives."""
    rtype = resource["resourceType"]
    for definition, _ in REGISTRY.indexed_for(rtype):
        stored = REGISTRY.storage(rtype, definition.code)
        if stored is None:
            continue
        own = _own_rows(resource, definition.code)
        read = IndexValues()
        for source in stored.params:
            rows = _own_rows(resource, source)
            for field in ("tokens", "strings", "dates", "numbers", "quantities", "uris"):
                getattr(read, field).extend(getattr(rows, field))
            read.references += [
                r for r in rows.references if stored.target_type in (None, r.target_type)
            ]
        if stored.target_type is not None:  # a reference keeps its own :identifier rows
            own.tokens.clear()
            read.tokens.clear()
        assert _row_sets(own) == _row_sets(read), definition.code


def _row_sets(values: IndexValues) -> dict[str, set[Any]]:
    fields = ("tokens", "strings", "dates", "numbers", "quantities", "references", "uris")
    return {f: set(getattr(values, f)) for f in fields}


def test_the_examples_feed_parameters_stored_as_others_rows() -> None:
    fed = {
        (resource["resourceType"], definition.code)
        for resource in map(_load, EXAMPLES)
        for definition, _ in REGISTRY.indexed_for(resource["resourceType"])
        if REGISTRY.storage(resource["resourceType"], definition.code) is not None
        and _row_sets(_own_rows(resource, definition.code)) != _row_sets(IndexValues())
    }
    assert {("Observation", "combo-code"), ("Condition", "patient")} <= fed


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_skipping_parameters_by_top_level_keys_drops_no_row(path: Path) -> None:
    resource = _load(path)
    assert extract_index_values(resource, REGISTRY) == _every_parameter(resource)


def test_top_level_keys() -> None:
    keys = top_level_keys("(Observation.value as Quantity) | Observation.component.code")
    assert keys is not None
    assert {"value", "valueQuantity", "component", "componentString"} <= keys
    assert "valueString" not in keys  # ``as Quantity`` names its one choice type
    assert top_level_keys("Patient.deceased.exists() and Patient.deceased != false") is None
    assert top_level_keys("Observation | Observation.component") is None
    keys = top_level_keys("Observation", root_keys=frozenset({"valueQuantity"}))
    assert keys == frozenset({"valueQuantity"})
    assert top_level_keys("Patient.name.given.first()") is None  # fhirpathpy: always evaluated


def test_as_applies_to_each_item() -> None:
    """``(Observation.component.value as Quantity)`` indexes every component's quantity."""
    obs = _load(next(p for p in EXAMPLES if p.stem == "Observation-1minute-apgar-score"))
    rows = extract_index_values(obs, REGISTRY)
    assert len([t for t in rows.tokens if t.param == "component-value-concept"]) > 1


def test_examples_produce_rows_of_every_kind() -> None:
    totals = IndexValues()
    for path in EXAMPLES:
        values = extract_index_values(_load(path), REGISTRY)
        for name in ("tokens", "strings", "dates", "quantities", "references", "uris"):
            getattr(totals, name).extend(getattr(values, name))
    assert all(
        getattr(totals, name)
        for name in ("tokens", "strings", "dates", "quantities", "references", "uris")
    )


def test_patient_rows() -> None:
    patient = {
        "resourceType": "Patient",
        "birthDate": "1974-12",
        "name": [{"family": "Ñúñez", "given": ["Ana", "María"]}],
        "identifier": [
            {
                "system": "urn:mrn",
                "value": "7",
                "type": {"coding": [{"system": "urn:t", "code": "MR"}]},
            }
        ],
        "managingOrganization": {"reference": "https://other.example/fhir/Organization/9"},
        "generalPractitioner": [{"identifier": {"system": "urn:npi", "value": "123"}}],
    }
    rows = extract_index_values(patient, REGISTRY)
    family = [s for s in rows.strings if s.param == "family"]
    assert [(s.value, s.exact) for s in family] == [("nunez", "Ñúñez")]
    [birth] = [d for d in rows.dates if d.param == "birthdate"]
    assert (birth.low.isoformat(), birth.high.isoformat()) == (
        "1974-12-01T00:00:00+00:00",
        "1974-12-31T23:59:59.999999+00:00",
    )
    tokens = {(t.param, t.system, t.code) for t in rows.tokens}
    assert ("identifier", "urn:mrn", "7") in tokens
    assert ("identifier:of-type", "urn:t", "MR|7") in tokens
    assert ("general-practitioner:identifier", "urn:npi", "123") in tokens
    refs = {(r.param, r.target_type, r.target_id, r.url) for r in rows.references}
    assert (
        "organization",
        "Organization",
        "9",
        "https://other.example/fhir/Organization/9",
    ) in refs
    assert ("general-practitioner", None, None, None) in refs


def test_identifier_with_a_relative_system_keeps_its_system() -> None:
    """``identifier=s|w1`` must find an Identifier whose system is the relative uri ``s``
    (it was indexed as a ContactPoint, without its system); telecom stays a ContactPoint."""
    patient = {
        "resourceType": "Patient",
        "identifier": [{"system": "s", "value": "w1"}, {"system": "phone", "value": "w2"}],
        "telecom": [{"system": "phone", "value": "555", "use": "home", "rank": 1}],
    }
    tokens = {(t.param, t.system, t.code) for t in extract_index_values(patient, REGISTRY).tokens}
    assert ("identifier", "s", "w1") in tokens
    assert ("telecom", None, "555") in tokens
    assert ("phone", None, "555") in tokens


def test_quantity_and_range_rows() -> None:
    obs = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "x"},
        "valueQuantity": {"value": 5.40, "system": "http://unitsofmeasure.org", "code": "mg"},
        "referenceRange": [{"low": {"value": 1}, "high": {"value": 2}}],
    }
    rows = extract_index_values(obs, REGISTRY)
    [value] = [q for q in rows.quantities if q.param == "value-quantity"]
    assert (value.value, value.low, value.high, value.code) == (
        Decimal("5.4"),
        Decimal("5.35"),
        Decimal("5.45"),
        "mg",
    )


def _custom_patient_string(code: str, expression: str) -> SearchParamDef:
    return definition_from_json(
        {
            "resourceType": "SearchParameter",
            "url": f"http://example.org/SearchParameter/patient-{code}",
            "code": code,
            "base": ["Patient"],
            "type": "string",
            "expression": expression,
        },
        custom=True,
    )


def test_custom_definition_is_layered_on_top() -> None:
    custom = _custom_patient_string("nickname", "Patient.name.where(use='nickname').given")
    registry = REGISTRY.with_definitions([custom])
    assert registry.get("Patient", "nickname") == custom
    assert REGISTRY.get("Patient", "nickname") is None
    patient = {
        "resourceType": "Patient",
        "name": [{"use": "official", "given": ["Robert"]}, {"use": "nickname", "given": ["Bob"]}],
    }
    rows = extract_index_values(patient, registry)
    assert [s.value for s in rows.strings if s.param == "nickname"] == ["bob"]
    assert not [s for s in extract_index_values(patient, REGISTRY).strings if s.param == "nickname"]


def test_custom_expression_outside_the_fast_path_is_evaluated() -> None:
    custom = _custom_patient_string("first-given", "Patient.name.given.first()")
    assert not is_fast("Patient.name.given.first()")
    registry = REGISTRY.with_definitions([custom])
    patient = {"resourceType": "Patient", "name": [{"given": ["Ana", "María"]}]}
    rows = extract_index_values(patient, registry)
    assert [s.value for s in rows.strings if s.param == "first-given"] == ["ana"]
