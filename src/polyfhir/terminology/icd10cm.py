"""ICD-10-CM as an R4 CodeSystem, built from the ``simple-icd-10-cm`` package's data.

The package ships the CDC/NCHS tabular list (public domain: a work of the US
government) and its own tree over it; this module walks that tree into one
CodeSystem with **nested concepts**: chapter -> block -> category ->
subcategories (down to the seven-character codes), each ``concept.concept``
being an ``is-a`` child, the FHIR form of a hierarchy.

Why nested, not flat concepts with a ``parent`` property: nesting is the
smaller JSON (no property object per concept: 10.4 MB instead of 15.3 MB for
~98,500 concepts), and the primary indexes ``CodeSystem.concept.code`` (the
``code`` search parameter) for top-level concepts only, so a nested system
costs the primary 22 token rows where a flat one would cost 98,000. Its depth
(at most 7 concepts, 15 JSON levels) stays far below the input limit of 100.

Codes: chapters keep the package's names (``"1"`` .. ``"22"``), blocks their
ranges (``"A00-A09"``), categories and subcategories the dotted form FHIR uses
(``"A00.0"``). Chapters and blocks are ``notSelectable``. Where a block holds a
single category of the same name (``B10``: block "B10" with category "B10"),
only the category is kept, so every code appears once.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

Json = dict[str, Any]

URL = "http://hl7.org/fhir/sid/icd-10-cm"
NOT_SELECTABLE = "http://hl7.org/fhir/concept-properties#notSelectable"
_YEAR = re.compile(r"(19|20)\d\d")


class Icd10cmData(Protocol):
    """What the converter needs of ``simple_icd_10_cm`` (the module satisfies it)."""

    def get_all_codes(self, with_dots: bool = True) -> list[str]: ...
    def is_chapter(self, code: str) -> bool: ...
    def is_chapter_or_block(self, code: str) -> bool: ...
    def get_description(self, code: str, prioritize_blocks: bool = False) -> str: ...
    def get_children(self, code: str, prioritize_blocks: bool = False) -> list[str]: ...


@dataclass(frozen=True, slots=True)
class _Node:
    code: str
    as_block: bool  # the block reading of a name that is a block and a category


def data_year(file_name: str) -> str:
    """The year of the package's data file (``icd10c-tabular-April-1-2026.xml`` -> 2026)."""
    years = [match.group(0) for match in _YEAR.finditer(file_name)]
    if not years:
        raise ValueError(f"no year in the ICD-10-CM data file name {file_name!r}")
    return years[-1]


def _node(data: Icd10cmData, code: str) -> _Node:
    """A child name read as a block unless it is a block of one same-named category."""
    if not data.is_chapter_or_block(code):
        return _Node(code, as_block=False)
    return _Node(code, as_block=data.get_children(code, prioritize_blocks=True) != [code])


def _concept(data: Icd10cmData, node: _Node, stats: list[int]) -> Json:
    concept: Json = {
        "code": node.code,
        "display": data.get_description(node.code, prioritize_blocks=node.as_block),
    }
    if node.as_block:
        concept["property"] = [{"code": "notSelectable", "valueBoolean": True}]
    stats[0] += 1
    kids = data.get_children(node.code, prioritize_blocks=node.as_block)
    children = [_concept(data, _node(data, kid), stats) for kid in kids]
    if children:
        concept["concept"] = children
    return concept


def chapters(data: Icd10cmData) -> list[str]:
    return [code for code in data.get_all_codes() if data.is_chapter(code)]


def codesystem(
    data: Icd10cmData,
    version: str,
    *,
    keep: Callable[[str], bool] | None = None,
) -> Json:
    """The whole CodeSystem (``keep``: only the chapters it accepts, for a small slice)."""
    stats = [0]
    top = [
        _concept(data, _Node(code, as_block=True), stats)
        for code in chapters(data)
        if keep is None or keep(code)
    ]
    return {
        "resourceType": "CodeSystem",
        "id": f"icd-10-cm-{version}",
        "url": URL,
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": "urn:oid:2.16.840.1.113883.6.90"}],
        "version": version,
        "name": "ICD10CM",
        "title": "International Classification of Diseases, Tenth Revision, Clinical Modification",
        "status": "active",
        "experimental": False,
        "publisher": "National Center for Health Statistics (NCHS), CDC",
        "description": (
            "ICD-10-CM converted by polyfhir from the simple-icd-10-cm package's copy of "
            "the CDC/NCHS tabular list (public domain)."
        ),
        "hierarchyMeaning": "is-a",
        "compositional": False,
        "versionNeeded": False,
        "content": "complete" if keep is None else "fragment",
        "count": stats[0],
        "property": [
            {
                "code": "notSelectable",
                "uri": NOT_SELECTABLE,
                "description": "chapters and blocks group codes; they are not codes to record",
                "type": "boolean",
            }
        ],
        "concept": top,
    }


def installed_codesystem(*, keep: Callable[[str], bool] | None = None) -> Json:
    """The CodeSystem of the installed ``simple-icd-10-cm`` package (~2 s to read its XML)."""
    with warnings.catch_warnings():  # it reads its data with importlib.resources.read_text
        warnings.simplefilter("ignore", DeprecationWarning)
        import simple_icd_10_cm as package
        from simple_icd_10_cm import simple_icd_10_cm as module

    year = data_year(module._classification_data_package_file_name)
    return codesystem(package, year, keep=keep)
