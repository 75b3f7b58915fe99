"""What a request may carry: bounded integers, JSON depth, control characters, nesting."""

from __future__ import annotations

import pytest

from polyfhir_core.errors import BadRequest, InvalidResource, NotSupported
from polyfhir_core.input_limits import (
    MAX_INT32,
    check_json_depth,
    check_resource_strings,
    check_search_text,
    parse_bounded_int,
)
from polyfhir_core.resource_validation import validate_resource
from polyfhir_core.resources import parse_etag
from polyfhir_core.search import parse_search
from polyfhir_core.search.nesting import check_nesting

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("raw", "value"), [("0", 0), ("42", 42), (str(MAX_INT32), MAX_INT32)])
def test_bounded_int_accepts_ascii_digits_in_range(raw: str, value: int) -> None:
    assert parse_bounded_int("n", raw, maximum=MAX_INT32) == value


@pytest.mark.parametrize(
    "raw", ["", "-1", "+1", "1.5", "²", "١٢", "0x10", str(MAX_INT32 + 1), "9" * 20, "9" * 5000]
)
def test_bounded_int_refuses_everything_else(raw: str) -> None:
    with pytest.raises(BadRequest, match=r"^n "):
        parse_bounded_int("n", raw, maximum=MAX_INT32)


def test_etag_version_beyond_the_version_column_is_bad_request() -> None:
    assert parse_etag('W/"7"') == 7
    with pytest.raises(BadRequest):
        parse_etag(f'W/"{MAX_INT32 + 1}"')


def test_json_depth_is_measured_without_recursion() -> None:
    value: object = 1
    for _ in range(100_000):  # far beyond Python's recursion limit
        value = [value]
    with pytest.raises(BadRequest, match="nests deeper than 100"):
        check_json_depth(value)
    check_json_depth({"a": [{"b": [1]}]}, limit=4)
    with pytest.raises(BadRequest):
        check_json_depth({"a": [{"b": [1]}]}, limit=3)


def test_control_characters_are_named_by_path_and_tab_cr_lf_pass() -> None:
    check_resource_strings({"resourceType": "Patient", "name": [{"text": "a\tb\r\nc"}]}, "Patient")
    resource = {"resourceType": "Patient", "name": [{"family": "a\x00"}, {"given": ["ok", "\x1f"]}]}
    with pytest.raises(InvalidResource) as raised:
        check_resource_strings(resource, "Patient")
    paths = sorted(issue.expression[0] for issue in raised.value.issues)
    assert paths == ["Patient.name[0].family", "Patient.name[1].given[1]"]


@pytest.mark.parametrize("bad", ["\x08", "\x0c", "\x0b", "\x01", "\x1b"])
def test_every_forbidden_character_is_found_whatever_its_json_escape(bad: str) -> None:
    """The one-pass check looks for orjson's escapes (\\b, \\f, \\u00XX)."""
    resource = {"resourceType": "Patient", "text": {"div": f"a{bad}b"}, "id": "x"}
    with pytest.raises(InvalidResource):
        check_resource_strings(resource, "Patient")


def test_a_backslash_before_b_or_f_is_text_not_a_control_character() -> None:
    check_resource_strings({"resourceType": "Patient", "id": "x", "t": "C:\\big\\file"}, "Patient")


def test_validate_resource_refuses_a_nul_in_a_key() -> None:
    with pytest.raises(InvalidResource):
        validate_resource({"resourceType": "Patient", "act\x00ive": True})


def test_search_text_refuses_control_characters_in_names_and_values() -> None:
    check_search_text("name", "tab\tis fine")
    for key, value in (("name", "a\x00"), ("na\x01me", "x")):
        with pytest.raises(BadRequest):
            check_search_text(key, value)
    with pytest.raises(BadRequest):
        parse_search("Patient", [("family", "x\x00")])


@pytest.mark.parametrize(
    "key",
    [
        "code:in",
        "subject.identifier:in",
        "subject.organization.partof.identifier:below",
        "subject:Patient.organization.partof.partof.name",
        "subject:Patient.link:Patient.link:Patient.link:Patient.link:Patient.link:Patient.name",
        "_has:Observation:subject:_has:Observation:has-member:_has:Observation:has-member:code",
        "_has:Observation:subject:code:not-in",
    ],
)
def test_nesting_within_the_bound(key: str) -> None:
    check_nesting(key)


@pytest.mark.parametrize(
    "key",
    [
        "subject.organization.identifier:in",
        "subject.organization.partof.partof.identifier:below",
        "_has:A:b:_has:A:b:_has:A:b:_has:A:b:code",
        "_has:Observation:subject:_has:Observation:has-member:code:in",
    ],
)
def test_nesting_beyond_the_bound_is_not_supported(key: str) -> None:
    with pytest.raises(NotSupported, match="supported"):
        check_nesting(key)
    with pytest.raises(NotSupported):
        parse_search("Observation", [(key, "x")])


def test_offset_and_count_are_bounded_in_the_query_parser() -> None:
    query = parse_search("Patient", [("_count", "5"), ("_offset", "10")])
    assert (query.count, query.offset) == (5, 10)
    for name in ("_count", "_offset"):
        with pytest.raises(BadRequest, match=name):
            parse_search("Patient", [(name, "9" * 20)])
