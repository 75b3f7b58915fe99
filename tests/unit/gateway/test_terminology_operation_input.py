"""An operation's input parameters, read the same from a query string (GET) and a
``Parameters`` body (POST): the typed accessors accept what R4 allows in each form and
answer anything else with a 400 naming the parameter."""

from __future__ import annotations

from typing import Any

import pytest

from polyfhir_core.contracts.terminology import Coding
from polyfhir_core.errors import BadRequest
from polyfhir_gateway.terminology.operation_input import OperationInput

OP = "ValueSet/$expand"
SYSTEM = "http://example.org/cs"


def query(*pairs: tuple[str, str]) -> OperationInput:
    return OperationInput.of_query(OP, pairs)


def body(*parameters: dict[str, Any]) -> OperationInput:
    return OperationInput.of_parameters(
        OP, {"resourceType": "Parameters", "parameter": list(parameters)}
    )


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (query(("activeOnly", "true")), True),
        (query(("activeOnly", "false")), False),
        (body({"name": "activeOnly", "valueBoolean": True}), True),
        (body({"name": "activeOnly", "valueBoolean": False}), False),
        (body({"name": "activeOnly", "valueString": "false"}), False),
        (query(), None),
    ],
)
def test_booleans_in_either_form(given: OperationInput, expected: bool | None) -> None:
    assert given.boolean("activeOnly") is expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (query(("count", "0")), 0),
        (query(("count", "25")), 25),
        (body({"name": "count", "valueInteger": 7}), 7),
        (body({"name": "count", "valueString": "12"}), 12),
        (query(), None),
    ],
)
def test_counts_in_either_form(given: OperationInput, expected: int | None) -> None:
    assert given.integer("count") == expected


@pytest.mark.parametrize(
    ("given", "accessor", "message"),
    [
        (query(("activeOnly", "yes")), "boolean", "activeOnly must be true or false"),
        (body({"name": "activeOnly"}), "boolean", "activeOnly must be true or false"),
        (body({"name": "activeOnly", "valueInteger": 1}), "boolean", "must be true or false"),
        (query(("count", "-1")), "integer", "count must be a non-negative integer"),
        (query(("count", "many")), "integer", "count must be a non-negative integer"),
        (query(("count", "9999999999")), "integer", "count must be a non-negative integer"),
        (body({"name": "count", "valueInteger": -3}), "integer", "non-negative integer"),
        (body({"name": "count", "valueBoolean": True}), "integer", "non-negative integer"),
        (query(("count", "1"), ("count", "2")), "integer", "count may be given only once"),
    ],
)
def test_a_scalar_of_the_wrong_kind_is_400(
    given: OperationInput, accessor: str, message: str
) -> None:
    name = "count" if accessor == "integer" else "activeOnly"
    with pytest.raises(BadRequest, match=message):
        getattr(given, accessor)(name)


def test_complex_values_only_come_in_a_body() -> None:
    given = query(("valueSet", "x"), ("codeableConcept", f"{SYSTEM}|a"))
    with pytest.raises(BadRequest, match="valueSet can only be given in a POST body"):
        given.resource("valueSet", "ValueSet")
    with pytest.raises(BadRequest, match="codeableConcept can only be given in a POST body"):
        given.codeable_concept("codeableConcept")
    assert query().resource("valueSet", "ValueSet") is None
    assert query().codeable_concept("codeableConcept") is None


def test_complex_values_from_a_body() -> None:
    inline = {"resourceType": "ValueSet", "status": "active"}
    concept = {"coding": [{"system": SYSTEM, "code": "a", "display": "A"}]}
    given = body(
        {"name": "valueSet", "resource": inline},
        {"name": "codeableConcept", "valueCodeableConcept": concept},
    )
    assert given.resource("valueSet", "ValueSet") == inline
    assert given.codeable_concept("codeableConcept") == (Coding(SYSTEM, "a", "A"),)
    with pytest.raises(BadRequest, match="valueSet must carry a CodeSystem resource"):
        given.resource("valueSet", "CodeSystem")


def test_a_coding_is_system_bar_code_in_a_query_string() -> None:
    assert query(("coding", f"{SYSTEM}|a")).coding("coding") == Coding(SYSTEM, "a")
    with pytest.raises(BadRequest, match=r"coding in a query string is system\|code"):
        query(("coding", "a")).coding("coding")
