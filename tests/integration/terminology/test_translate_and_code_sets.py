"""$translate and the code sets behind :below/:above/:in/:not-in, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from fakes.terminology_data import DISORDERS, LAB, concept_map, disorders, is_a, lab, value_set
from polyfhir_core.contracts.terminology import (
    CodeSetKind,
    CodeSetRequest,
    Coding,
    TranslateRequest,
)
from polyfhir_core.errors import BadRequest, NotFound

pytestmark = pytest.mark.integration
CM = "http://example.org/fhir/ConceptMap/disorders-to-lab"


@pytest.fixture
async def loaded(harness: Any) -> Any:
    assert (
        await harness.apply(
            harness.put("cs", 1, disorders()),
            harness.put("lab", 1, lab()),
            harness.put("cm", 1, concept_map(CM)),
            harness.put("inf", 1, value_set("http://x/inf", [is_a("INF")])),
        )
        == []
    )
    return harness


async def test_translate_forward_by_url_id_or_scope(loaded: Any) -> None:
    for request in (
        TranslateRequest(DISORDERS, "BAC", concept_map_url=CM),
        TranslateRequest(DISORDERS, "BAC", concept_map_id="cm"),
        TranslateRequest(DISORDERS, "BAC", target="http://example.org/fhir/ValueSet/lab"),
        TranslateRequest(DISORDERS, "BAC", target_system=LAB),
    ):
        result = await loaded.service.translate(loaded.ctx, request)
        assert result.result, request
        assert [(m.equivalence, m.concept, m.source) for m in result.matches] == [
            ("wider", Coding(LAB, "GLU", "Glucose"), CM)
        ]


async def test_translate_reverse_turns_the_relationship_around(loaded: Any) -> None:
    request = TranslateRequest(LAB, "GLU", concept_map_url=CM, reverse=True)
    result = await loaded.service.translate(loaded.ctx, request)
    assert result.result
    assert [(m.equivalence, m.concept) for m in result.matches] == [
        ("narrower", Coding(DISORDERS, "BAC", "Bacterial infection"))
    ]


async def test_translate_without_a_match(loaded: Any) -> None:
    unmatched = await loaded.service.translate(
        loaded.ctx, TranslateRequest(DISORDERS, "TUM", concept_map_url=CM)
    )
    assert not unmatched.result and unmatched.matches[0].equivalence == "unmatched"
    unmapped = await loaded.service.translate(
        loaded.ctx, TranslateRequest(DISORDERS, "FLU", concept_map_url=CM)
    )
    assert not unmapped.result and unmapped.matches == () and "FLU" in (unmapped.message or "")
    other_target = await loaded.service.translate(
        loaded.ctx, TranslateRequest(DISORDERS, "BAC", target_system="http://elsewhere")
    )
    assert not other_target.result
    with pytest.raises(NotFound):
        await loaded.service.translate(
            loaded.ctx, TranslateRequest(DISORDERS, "BAC", concept_map_url="http://nowhere")
        )


async def test_code_sets_below_above_in_and_not_in(loaded: Any) -> None:
    def ask(kind: CodeSetKind, **more: Any) -> CodeSetRequest:
        return CodeSetRequest(kind, **more)

    below = await loaded.service.code_set(
        loaded.ctx, ask(CodeSetKind.BELOW, system=DISORDERS, code="VIR")
    )
    assert set(below.codes) == {(DISORDERS, c) for c in ("VIR", "FLU", "COVID")} and below.complete
    above = await loaded.service.code_set(
        loaded.ctx, ask(CodeSetKind.ABOVE, system=DISORDERS, code="STREP")
    )
    assert {c for _, c in above.codes} == {"STREP", "BAC", "INF", "DIS"}
    for kind in (CodeSetKind.IN, CodeSetKind.NOT_IN):
        members = await loaded.service.code_set(loaded.ctx, ask(kind, value_set_url="http://x/inf"))
        assert len(members.codes) == 6 and members.complete


async def test_a_code_set_past_its_limit_is_incomplete(loaded: Any) -> None:
    cut = await loaded.service.code_set(
        loaded.ctx, CodeSetRequest(CodeSetKind.BELOW, system=DISORDERS, code="INF", limit=2)
    )
    assert len(cut.codes) == 2 and not cut.complete
    cut_in = await loaded.service.code_set(
        loaded.ctx, CodeSetRequest(CodeSetKind.IN, value_set_url="http://x/inf", limit=5)
    )
    assert len(cut_in.codes) == 5 and not cut_in.complete


async def test_code_sets_need_what_they_name(loaded: Any) -> None:
    with pytest.raises(BadRequest):
        await loaded.service.code_set(
            loaded.ctx, CodeSetRequest(CodeSetKind.BELOW, system=DISORDERS)
        )
    with pytest.raises(BadRequest):
        await loaded.service.code_set(loaded.ctx, CodeSetRequest(CodeSetKind.IN))
    with pytest.raises(NotFound):
        await loaded.service.code_set(
            loaded.ctx, CodeSetRequest(CodeSetKind.BELOW, system="http://nowhere", code="x")
        )
