"""Full-text search over the index, the same behaviour on both adapters (OpenSearch and
Elasticsearch clients against an OpenSearch-API engine).

The cases mirror tests/integration/api/test_search_fulltext.py on the primary store, so the
primary and the index give the same ids for the same query.
"""

from __future__ import annotations

from typing import Any

import pytest

from polyfhir_core.contracts.search_index import TextClause, TextField, TextSearch
from polyfhir_core.errors import BadRequest
from polyfhir_core.tenancy import TenantContext

pytestmark = pytest.mark.integration


async def _seed(harness: Any, ev: Any, tenant: str | None = None) -> None:
    tenant = tenant or harness.tenant
    await harness.apply(
        ev.change(
            tenant,
            "fever",
            1,
            ev.narrative(
                "Patient was running a high fever", note=[{"text": "treated with paracetamol"}]
            ),
        ),
        ev.change(tenant, "asthma", 1, ev.narrative("Chronic asthma, worse when running outdoors")),
        ev.change(
            tenant,
            "fracture",
            1,
            ev.narrative("Fracture of the left wrist", note=[{"text": "fell while cycling"}]),
        ),
    )


async def _found(
    harness: Any,
    *values: str,
    field: TextField = TextField.NARRATIVE,
    param: str | None = None,
    types: tuple[str, ...] | None = ("Condition",),
    tenant: str | None = None,
) -> set[str]:
    request = TextSearch(types, (TextClause(field, values, param),))
    hits = await harness.service.search_text(TenantContext.of(tenant or harness.tenant), request)
    assert hits.complete
    return {h.id for h in hits.hits}


async def test_text_searches_narrative_with_stemming(harness: Any, ev: Any) -> None:
    await _seed(harness, ev)
    assert await _found(harness, "runs") == {"fever", "asthma"}
    assert await _found(harness, "fevers") == {"fever"}
    assert await _found(harness, "paracetamol") == set()  # only in a note, not the narrative
    assert await _found(harness, "paracetamol", field=TextField.CONTENT) == {"fever"}
    assert await _found(harness, "cycle", field=TextField.CONTENT) == {"fracture"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('"high fever"', {"fever"}),
        ('"fever high"', set()),
        ("fract*", {"fracture"}),
        ("runn*", {"fever", "asthma"}),
        ("running asthma", {"asthma"}),
        ("running AND asthma", {"asthma"}),
        ("fever OR wrist", {"fever", "fracture"}),
        ("running -asthma", {"fever"}),
        ("running NOT fever", {"asthma"}),
        ("FEVER", {"fever"}),
    ],
)
async def test_phrases_prefixes_and_boolean(
    harness: Any, ev: Any, query: str, expected: set[str]
) -> None:
    await _seed(harness, ev)
    assert await _found(harness, query) == expected


async def test_values_are_alternatives_and_clauses_all_match(harness: Any, ev: Any) -> None:
    await _seed(harness, ev)
    assert await _found(harness, "wrist", "asthma") == {"fracture", "asthma"}
    both = TextSearch(
        ("Condition",),
        (
            TextClause(TextField.NARRATIVE, ("running",)),
            TextClause(TextField.CONTENT, ("paracetamol",)),
        ),
    )
    hits = await harness.service.search_text(harness.ctx, both)
    assert [h.id for h in hits.hits] == ["fever"]


async def test_token_and_string_text(harness: Any, ev: Any) -> None:
    heart = {
        "code": {
            "text": "Heart attack",
            "coding": [
                {
                    "system": "http://snomed.info/sct",
                    "code": "22298006",
                    "display": "Myocardial infarction",
                }
            ],
        }
    }
    await harness.apply(
        ev.change(harness.tenant, "mi", 1, heart),
        ev.change(harness.tenant, "other", 1, {"code": {"text": "Broken arm"}}),
        ev.change(
            harness.tenant,
            "p1",
            1,
            {"name": [{"family": "Chalmers", "given": ["Peter James"]}]},
            "Patient",
        ),
    )
    assert await _found(harness, "infarctions", field=TextField.TOKEN_TEXT, param="code") == {"mi"}
    assert await _found(harness, '"heart attack"', field=TextField.TOKEN_TEXT, param="code") == {
        "mi"
    }
    assert await _found(harness, "arm", field=TextField.TOKEN_TEXT, param="code") == {"other"}
    assert await _found(harness, "heart", field=TextField.TOKEN_TEXT, param="category") == set()
    assert await _found(
        harness, "james", field=TextField.STRING, param="name", types=("Patient",)
    ) == {"p1"}
    assert await _found(
        harness, "chalm*", field=TextField.STRING, param="family", types=("Patient",)
    ) == {"p1"}


async def test_token_text_matches_words_anywhere_by_prefix(harness: Any, ev: Any) -> None:
    diabetes = {"code": {"coding": [{"code": "44054006", "display": "Type 2 diabetes mellitus"}]}}
    await harness.apply(
        ev.change(harness.tenant, "t2", 1, diabetes),
        ev.change(harness.tenant, "flu", 1, {"code": {"text": "Influenza"}}),
    )
    for query in ("diabetes", "DIAB", "mellitus type", "diabetes*"):
        assert await _found(harness, query, field=TextField.TOKEN_TEXT, param="code") == {"t2"}
    for query in ("abetes", "diabetes insipidus", "type -diab"):
        assert await _found(harness, query, field=TextField.TOKEN_TEXT, param="code") == set()


async def test_type_filter_and_system_search(harness: Any, ev: Any) -> None:
    await harness.apply(
        ev.change(harness.tenant, "c1", 1, ev.narrative("diabetes follow-up")),
        ev.change(harness.tenant, "o1", 1, ev.narrative("diabetes screening"), "Observation"),
    )
    assert await _found(harness, "diabetes") == {"c1"}
    assert await _found(harness, "diabetes", types=("Observation",)) == {"o1"}
    assert await _found(harness, "diabetes", types=None) == {"c1", "o1"}
    assert await _found(harness, "diabetes", types=("Condition", "Observation")) == {"c1", "o1"}


async def test_search_stays_in_tenant(harness: Any, ev: Any) -> None:
    await _seed(harness, ev)
    other = ev.unique("other")
    assert await _found(harness, "fever", tenant=other) == set()
    await _seed(harness, ev, tenant=other)
    assert await _found(harness, "fever", tenant=other) == {"fever"}
    stats = await harness.service.stats(harness.ctx)
    assert stats.documents == 3


async def test_documents_follow_updates_and_deletes(harness: Any, ev: Any) -> None:
    await _seed(harness, ev)
    await harness.apply(ev.change(harness.tenant, "fracture", 2, ev.narrative("Sprained ankle")))
    assert await _found(harness, "wrist") == set()
    assert await _found(harness, "ankle") == {"fracture"}
    await harness.apply(ev.change(harness.tenant, "fracture", 3, None))
    assert await _found(harness, "ankle") == set()


async def test_limit_keeps_the_total(harness: Any, ev: Any) -> None:
    await harness.apply(
        *(ev.change(harness.tenant, f"c{i}", 1, ev.narrative("common cold")) for i in range(5))
    )
    request = TextSearch(("Condition",), (TextClause(TextField.NARRATIVE, ("cold",)),), limit=2)
    hits = await harness.service.search_text(harness.ctx, request)
    assert len(hits.hits) == 2
    assert hits.total == 5
    assert not hits.complete


@pytest.mark.parametrize("query", ["-fever", "NOT fever", '""', "***"])
async def test_unanswerable_queries_are_bad_requests(harness: Any, query: str) -> None:
    with pytest.raises(BadRequest):
        await _found(harness, query)


async def test_parameter_clause_needs_a_parameter(harness: Any) -> None:
    with pytest.raises(BadRequest):
        await _found(harness, "heart", field=TextField.TOKEN_TEXT)
