"""ICD-10-CM as a FHIR CodeSystem: the converter over a small tree, then the real data."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from polyfhir.terminology.icd10cm import URL, codesystem, data_year, installed_codesystem

# chapter "1" -> block "A00-A01" -> A00 -> A00.0, A00.1 ; A01
#             -> block "B10" holding only the category "B10" -> B10.0
_BLOCKS = {"1": ["A00-A01", "B10"], "A00-A01": ["A00", "A01"], "B10": ["B10"]}
_CATEGORIES = {"A00": ["A00.0", "A00.1"], "B10": ["B10.0"]}
_NAMES = {
    "1": "Certain infectious and parasitic diseases (A00-B99)",
    "A00-A01": "Intestinal infectious diseases (A00-A01)",
    "A00": "Cholera",
    "A00.0": "Cholera due to Vibrio cholerae 01, biovar cholerae",
    "A00.1": "Cholera due to Vibrio cholerae 01, biovar eltor",
    "A01": "Typhoid and paratyphoid fevers",
    "B10": "Other human herpesviruses",
    "B10.0": "Other human herpesvirus encephalitis",
}


class SmallTree:
    """The few functions of simple_icd_10_cm the converter uses, over a tiny tree."""

    def get_all_codes(self, with_dots: bool = True) -> list[str]:
        return ["1", "A00-A01", "A00", "A00.0", "A00.1", "A01", "B10", "B10", "B10.0"]

    def is_chapter(self, code: str) -> bool:
        return code == "1"

    def is_chapter_or_block(self, code: str) -> bool:
        return code in _BLOCKS

    def get_description(self, code: str, prioritize_blocks: bool = False) -> str:
        suffix = " (B10)" if code == "B10" and prioritize_blocks else ""
        return _NAMES[code] + suffix

    def get_children(self, code: str, prioritize_blocks: bool = False) -> list[str]:
        if prioritize_blocks and code in _BLOCKS:
            return _BLOCKS[code]
        return _CATEGORIES.get(code, [])


def _walk(concepts: list[dict[str, Any]], depth: int = 1) -> Iterator[tuple[int, dict[str, Any]]]:
    for concept in concepts:
        yield depth, concept
        yield from _walk(concept.get("concept") or [], depth + 1)


def _not_selectable(concept: dict[str, Any]) -> bool:
    return {"code": "notSelectable", "valueBoolean": True} in concept.get("property", [])


def test_the_tree_becomes_nested_is_a_concepts() -> None:
    cs = codesystem(SmallTree(), "2026")
    assert cs["url"] == URL
    assert (cs["version"], cs["hierarchyMeaning"], cs["content"]) == ("2026", "is-a", "complete")
    chapter = cs["concept"][0]
    assert chapter["code"] == "1"
    block = chapter["concept"][0]
    assert [c["code"] for c in block["concept"]] == ["A00", "A01"]
    assert [c["code"] for c in block["concept"][0]["concept"]] == ["A00.0", "A00.1"]
    assert block["concept"][0]["concept"][0]["display"] == _NAMES["A00.0"]
    assert cs["count"] == 8 == len(list(_walk(cs["concept"])))


def test_chapters_and_blocks_are_not_selectable_codes_are() -> None:
    concepts = {c["code"]: c for _, c in _walk(codesystem(SmallTree(), "2026")["concept"])}
    assert _not_selectable(concepts["1"])
    assert _not_selectable(concepts["A00-A01"])
    assert not _not_selectable(concepts["A00"])
    assert not _not_selectable(concepts["A00.0"])


def test_a_block_of_one_same_named_category_is_the_category_once() -> None:
    codes = [c["code"] for _, c in _walk(codesystem(SmallTree(), "2026")["concept"])]
    assert codes.count("B10") == 1
    b10 = next(
        c for _, c in _walk(codesystem(SmallTree(), "2026")["concept"]) if c["code"] == "B10"
    )
    assert not _not_selectable(b10)  # a code to record, with its own children
    assert b10["display"] == "Other human herpesviruses"
    assert [c["code"] for c in b10["concept"]] == ["B10.0"]


def test_a_slice_keeps_the_chapters_asked_for_and_says_it_is_a_fragment() -> None:
    cs = codesystem(SmallTree(), "2026", keep=lambda chapter: chapter == "2")
    assert cs["concept"] == []
    assert cs["content"] == "fragment"


@pytest.mark.parametrize(
    ("name", "year"),
    [("icd10c-tabular-April-1-2026.xml", "2026"), ("icd10cm-tabular-2025.xml", "2025")],
)
def test_the_version_is_the_data_files_year(name: str, year: str) -> None:
    assert data_year(name) == year


def test_a_data_file_without_a_year_is_refused() -> None:
    with pytest.raises(ValueError, match="no year"):
        data_year("tabular.xml")


@pytest.fixture(scope="module")
def icd10cm() -> dict[str, Any]:
    return installed_codesystem()


def test_the_real_data_has_every_code_once(icd10cm: dict[str, Any]) -> None:
    codes = [c["code"] for _, c in _walk(icd10cm["concept"])]
    assert len(codes) == len(set(codes)) == icd10cm["count"]
    assert len(codes) > 95_000
    assert [c["code"] for c in icd10cm["concept"]] == [str(n) for n in range(1, 23)]


def test_the_real_data_is_deep_and_fits_the_default_body_limit(icd10cm: dict[str, Any]) -> None:
    concepts = {c["code"]: (d, c) for d, c in _walk(icd10cm["concept"])}
    depth, s72 = concepts["S72.001A"]  # fracture of the femur, initial encounter: 7 characters
    assert depth == 7  # chapter, block, S72, S72.0, S72.00, S72.001, S72.001A
    assert "initial encounter" in s72["display"]
    assert _not_selectable(concepts["A00-A09"][1])
    assert len(orjson.dumps(icd10cm)) < 16 * 1024 * 1024  # POLYFHIR_MAX_BODY_BYTES default
