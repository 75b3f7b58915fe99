"""ConceptMap rows and what a change event becomes in the terminology store (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from fakes.events import change
from fakes.terminology_data import DISORDERS, LAB, concept_map, disorders
from polyfhir_terminology.domain.codesystem import CodeSystemRows
from polyfhir_terminology.domain.conceptmap import concept_map_rows
from polyfhir_terminology.domain.items import ValueSetRow, item_for

pytestmark = pytest.mark.unit


def test_concept_map_rows_per_target_and_for_unmapped_elements() -> None:
    cm = concept_map_rows(concept_map("http://x/cm"))
    assert (cm.url, cm.source, cm.target) == (
        "http://x/cm",
        "http://example.org/fhir/ValueSet/disorders",
        "http://example.org/fhir/ValueSet/lab",
    )
    rows = {r.source_code: r for r in cm.rows}
    assert (rows["BAC"].target_system, rows["BAC"].target_code, rows["BAC"].equivalence) == (
        LAB,
        "GLU",
        "wider",
    )
    assert rows["TUM"].target_code is None and rows["TUM"].equivalence == "unmatched"
    assert rows["VIR"].target_system is None and rows["VIR"].source_system == DISORDERS


def _event(rtype: str, body: dict[str, Any] | None) -> Any:
    body = None if body is None else {k: v for k, v in body.items() if k != "resourceType"}
    return change("t", "r1", 2, body, resource_type=rtype)


def test_events_become_definitions_tombstones_or_refusals() -> None:
    cs = item_for(_event("CodeSystem", disorders()))
    assert isinstance(cs.definition, CodeSystemRows) and not cs.deleted
    vs = item_for(_event("ValueSet", {"url": "http://x/vs", "compose": {"include": []}}))
    assert isinstance(vs.definition, ValueSetRow) and vs.definition.url == "http://x/vs"
    gone = item_for(_event("CodeSystem", None))
    assert gone.deleted and gone.definition is None and gone.version == 2
    refused = item_for(_event("CodeSystem", {"concept": []}))
    assert refused.refusal is not None and "url" in refused.refusal
