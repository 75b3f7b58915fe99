"""A searchset's paging links: self shows what was applied; first/previous/last when known."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from polyfhir_core.contracts.primary_store import Page
from polyfhir_core.search import parse_search
from polyfhir_gateway.api.search_links import paging_links

BASE = "http://fhir.example/fhir"


def links(
    pairs: list[tuple[str, str]], page: Page, page_size: int = 10
) -> dict[str, list[tuple[str, str]]]:
    query = parse_search("Patient", pairs)
    built = paging_links(BASE, "Patient", query, page, page_size)
    return {rel: parse_qsl(urlsplit(url).query) for rel, url in built.items()}


def test_self_repeats_includes_total_and_sort_but_not_ignored_parameters() -> None:
    pairs = [
        ("name", "ann"),
        ("bogus", "1"),
        ("_include", "Patient:organization"),
        ("_revinclude:iterate", "*"),
        ("_sort", "-birthdate"),
        ("_total", "accurate"),
    ]
    own = links(pairs, Page([], ignored=["bogus"]))["self"]
    assert ("name", "ann") in own
    assert ("bogus", "1") not in own
    assert ("_include", "Patient:organization") in own
    assert ("_revinclude:iterate", "*") in own
    assert ("_sort", "-birthdate") in own
    assert ("_total", "accurate") in own


def test_first_previous_next_last_on_a_middle_page() -> None:
    found = links([("_offset", "25")], Page([], total=57, next_token="35"))
    assert "_offset" not in dict(found["first"])
    assert dict(found["self"])["_offset"] == "25"
    assert dict(found["previous"])["_offset"] == "15"
    assert dict(found["next"])["_offset"] == "35"
    assert dict(found["last"])["_offset"] == "50"


def test_first_page_has_no_previous_and_no_last_without_a_total() -> None:
    found = links([], Page([], total=None, next_token="10"))
    assert set(found) == {"self", "first", "next"}


def test_previous_never_goes_below_zero_and_an_empty_result_has_last_at_zero() -> None:
    found = links([("_offset", "4")], Page([], total=0))
    assert "_offset" not in dict(found["previous"])
    assert "_offset" not in dict(found["last"])
