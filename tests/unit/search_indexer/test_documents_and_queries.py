"""Index documents and query translation (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from polyfhir_bus.events import ChangeKind, ResourceChanged
from polyfhir_bus.indexing.batch import latest_per_resource
from polyfhir_core.contracts.search_index import TextClause, TextField, TextSearch
from polyfhir_core.errors import BadRequest
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_search.adapters.engine_index import bulk_chunks
from polyfhir_search.domain.documents import document_for, text_registry
from polyfhir_search.domain.queries import search_body

pytestmark = pytest.mark.unit
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
REGISTRY = SearchParameterRegistry.default()


def _event(rid: str, version: int, resource: dict[str, Any] | None) -> ResourceChanged:
    kind = ChangeKind.DELETED if resource is None else ChangeKind.UPDATED
    body = None if resource is None else {"resourceType": "Condition", "id": rid, **resource}
    return ResourceChanged("t1", "Condition", rid, version, kind, NOW, body)


def test_a_document_holds_narrative_content_and_parameter_text() -> None:
    doc = document_for(
        _event(
            "a",
            2,
            {
                "text": {"div": "<div><b>Heart</b> attack &amp; more</div>"},
                "code": {"text": "Heart attack", "coding": [{"code": "1", "display": "MI"}]},
                "note": [{"text": "see cardiology"}],
            },
        ),
        REGISTRY,
    )
    source = doc.source()
    assert doc.doc_id == "t1|Condition|a"
    assert (source["tenant"], source["type"], source["rid"], source["version"]) == (
        "t1", "Condition", "a", 2,
    )  # fmt: skip
    assert source["deleted"] is False
    assert source["narrative"] == "Heart attack & more"
    assert "see cardiology" in source["content"]
    assert sorted(source["token_text"]["code"]) == ["heart attack", "mi"]


def test_the_text_registry_gives_the_same_documents() -> None:
    resources: list[dict[str, Any]] = [
        {"resourceType": "Patient", "id": "p", "name": [{"family": "Chalmers", "given": ["Peter"]}],
         "telecom": [{"system": "phone", "value": "555", "use": "home"}],
         "identifier": [{"system": "urn:x", "value": "1", "type": {"text": "Medical record"}}]},
        {"resourceType": "Observation", "id": "o", "status": "final",
         "code": {"coding": [{"system": "http://loinc.org", "code": "1", "display": "Glucose"}]},
         "valueQuantity": {"value": 5, "unit": "mmol/L"}, "subject": {"reference": "Patient/p"}},
    ]  # fmt: skip
    small = text_registry(REGISTRY)
    for resource in resources:
        event = ResourceChanged(
            "t", resource["resourceType"], "x", 1, ChangeKind.CREATED, NOW, resource
        )
        assert document_for(event, small) == document_for(event, REGISTRY)
        assert document_for(event, small).text["token_text"]


def test_a_parameter_made_of_others_rows_gets_their_texts() -> None:
    """``combo-code`` writes no rows of its own (``code | component.code``): its text
    field is the texts of ``code`` and ``component-code``."""
    observation = {
        "resourceType": "Observation", "id": "o", "status": "final",
        "code": {"text": "Blood pressure panel"},
        "component": [{"code": {"text": "Systolic"}}, {"code": {"text": "Diastolic"}}],
    }  # fmt: skip
    event = ResourceChanged("t", "Observation", "o", 1, ChangeKind.CREATED, NOW, observation)
    for registry in (REGISTRY, text_registry(REGISTRY)):
        texts = document_for(event, registry).text["token_text"]
        assert texts["code"] == ["blood pressure panel"]
        assert sorted(texts["combo-code"]) == ["blood pressure panel", "diastolic", "systolic"]


def test_a_delete_is_a_tombstone_without_text() -> None:
    source = document_for(_event("a", 3, None), REGISTRY).source()
    assert source["deleted"] is True
    assert source["version"] == 3
    assert "content" not in source
    assert "narrative" not in source


def test_only_the_highest_version_of_a_batch_is_kept() -> None:
    events = [_event("a", 2, {}), _event("b", 1, {}), _event("a", 3, None), _event("a", 1, {})]
    kept = {(e.resource_id, e.version) for e in latest_per_resource(events)}
    assert kept == {("a", 3), ("b", 1)}


def _filters(body: dict[str, Any]) -> list[Any]:
    return list(body["query"]["bool"]["filter"])


def test_every_query_filters_tenant_and_tombstones() -> None:
    request = TextSearch(None, (TextClause(TextField.CONTENT, ("fever",)),))
    filters = _filters(search_body("t1", request))
    assert {"term": {"tenant": "t1"}} in filters
    assert {"term": {"deleted": False}} in filters
    assert not any("terms" in f for f in filters)
    typed = TextSearch(("Condition", "Observation"), request.clauses, limit=7)
    body = search_body("t1", typed)
    assert {"terms": {"type": ["Condition", "Observation"]}} in _filters(body)
    assert body["size"] == 7
    assert body["track_total_hits"] is True


def test_values_or_and_clauses_and() -> None:
    request = TextSearch(
        None,
        (
            TextClause(TextField.NARRATIVE, ("fever", '"high fever" -cough')),
            TextClause(TextField.TOKEN_TEXT, ("heart*",), "code"),
        ),
    )
    must = search_body("t1", request)["query"]["bool"]["must"]
    assert len(must) == 2
    alternatives = must[0]["bool"]["should"]
    assert must[0]["bool"]["minimum_should_match"] == 1
    assert alternatives[1]["bool"]["must"] == [{"match_phrase": {"narrative": "high fever"}}]
    assert alternatives[1]["bool"]["must_not"] == [
        {"match": {"narrative": {"query": "cough", "operator": "and"}}}
    ]
    prefix = must[1]["bool"]["must"][0]["bool"]["should"]
    assert {"prefix": {"token_text.code.prefix": "heart"}} in prefix


@pytest.mark.parametrize(
    "clause",
    [
        TextClause(TextField.TOKEN_TEXT, ("x",)),
        TextClause(TextField.STRING, ("x",), "bad name!"),
        TextClause(TextField.CONTENT, ()),
        TextClause(TextField.CONTENT, ("-only",)),
    ],
)
def test_unanswerable_clauses_are_bad_requests(clause: TextClause) -> None:
    with pytest.raises(BadRequest):
        search_body("t1", TextSearch(None, (clause,)))


def test_bulks_are_split_by_size() -> None:
    big = {"text": {"div": "<div>" + "word " * 1000 + "</div>"}}
    docs = [document_for(_event(f"r{i}", 1, big), REGISTRY) for i in range(10)]
    chunks = bulk_chunks(docs, max_bytes=25_000)
    assert [d.resource_id for c in chunks for d in c] == [f"r{i}" for i in range(10)]
    assert len(chunks) > 1
    assert bulk_chunks(docs[:1], max_bytes=1) == [docs[:1]]
