"""``$expand?filter`` over a stored expansion uses a word index (text_index.py): it must
match exactly the members the plain scan matches, in expansion order."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given
from hypothesis import strategies as st

from polyfhir_core.contracts.terminology import Designation
from polyfhir_terminology.service_layer.text_index import TextIndex, text_matcher


@dataclass(frozen=True)
class Concept:
    display: str | None
    designations: tuple[Designation, ...] = field(default=())


CONCEPTS = [
    Concept("Type 2 diabetes mellitus without complications"),
    Concept("Type 1 diabetes mellitus", (Designation("Diabète de type 1", "fr"),)),
    Concept("Diabetic retinopathy"),
    Concept(None, (Designation("COVID-19", "en"),)),
    Concept("Influenza due to other identified influenza virus"),
    Concept("Coronavirus disease"),
]


def _scanned(text: str) -> list[int]:
    matches = text_matcher(text)
    return [i for i, c in enumerate(CONCEPTS) if matches(c)]


def test_word_prefixes_of_displays_and_designations_in_order() -> None:
    index = TextIndex(CONCEPTS)
    assert index.matching("diab") == [0, 1, 2]
    assert index.matching("DIABETES type") == [0, 1]
    assert index.matching("diabète") == [1]
    assert index.matching("covid 19") == [3]
    assert index.matching("etes") == []  # not a word start
    assert index.matching("") == list(range(len(CONCEPTS)))


WORD = st.sampled_from(["diab", "type", "1", "2", "co", "influenza", "virus", "x", "mell", "de"])


@given(st.lists(WORD, max_size=3))
def test_the_index_matches_what_the_scan_matches(query_words: list[str]) -> None:
    text = " ".join(query_words)
    assert TextIndex(CONCEPTS).matching(text) == _scanned(text)
