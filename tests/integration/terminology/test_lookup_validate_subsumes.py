"""$lookup, $validate-code and $subsumes over the store, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from fakes.terminology_data import DISORDERS, LAB, disorders, is_a, lab, value_set
from polyfhir_core.contracts.terminology import (
    Coding,
    ConceptProperty,
    LookupRequest,
    SubsumesRequest,
    Subsumption,
    ValidateCodeRequest,
)
from polyfhir_core.errors import BadRequest, NotFound

pytestmark = pytest.mark.integration
VS = "http://example.org/fhir/ValueSet/infections"


@pytest.fixture
async def loaded(harness: Any) -> Any:
    assert (
        await harness.apply(
            harness.put("cs", 1, disorders()),
            harness.put("lab", 1, lab()),
            harness.put("vs", 1, value_set(VS, [is_a("INF")])),
        )
        == []
    )
    return harness


async def test_lookup_answers_display_designations_parent_and_child(loaded: Any) -> None:
    result = await loaded.service.lookup(loaded.ctx, LookupRequest(DISORDERS, "BAC"))
    assert (result.name, result.version, result.display) == (
        "Disorders",
        "1",
        "Bacterial infection",
    )
    assert [d.value for d in result.designations] == ["Bakterielle Infektion"]
    assert ConceptProperty("parent", {"valueCode": "INF"}) in result.properties
    assert ConceptProperty("child", {"valueCode": "STREP"}) in result.properties
    root = await loaded.service.lookup(loaded.ctx, LookupRequest(DISORDERS, "DIS"))
    assert root.abstract


async def test_lookup_returns_only_the_properties_asked_for(loaded: Any) -> None:
    request = LookupRequest(DISORDERS, "BAC", properties=("severity", "definition"))
    result = await loaded.service.lookup(loaded.ctx, request)
    assert result.properties == (ConceptProperty("severity", {"valueCode": "low"}),)
    assert result.designations == ()
    inf = await loaded.service.lookup(
        loaded.ctx, LookupRequest(DISORDERS, "INF", properties=("definition",))
    )
    assert inf.properties == (
        ConceptProperty("definition", {"valueString": "Invasion by pathogens"}),
    )


async def test_lookup_in_a_display_language(loaded: Any) -> None:
    request = LookupRequest(DISORDERS, "BAC", display_language="de")
    assert (await loaded.service.lookup(loaded.ctx, request)).display == "Bakterielle Infektion"


async def test_lookup_of_an_unknown_system_version_or_code_is_not_found(loaded: Any) -> None:
    for request in (
        LookupRequest("http://nowhere", "BAC"),
        LookupRequest(DISORDERS, "BAC", version="9"),
        LookupRequest(DISORDERS, "NOPE"),
    ):
        with pytest.raises(NotFound):
            await loaded.service.lookup(loaded.ctx, request)


async def test_validate_code_against_the_code_system_checks_the_display(loaded: Any) -> None:
    def ask(code: str, display: str | None = None) -> ValidateCodeRequest:
        return ValidateCodeRequest((Coding(DISORDERS, code, display),), code_system=DISORDERS)

    ok = await loaded.service.validate_code(loaded.ctx, ask("BAC"))
    assert ok.result and ok.display == "Bacterial infection"
    assert (
        await loaded.service.validate_code(loaded.ctx, ask("BAC", "bakterielle infektion"))
    ).result
    wrong = await loaded.service.validate_code(loaded.ctx, ask("BAC", "Viral infection"))
    assert not wrong.result and "Viral infection" in (wrong.message or "")
    unknown = await loaded.service.validate_code(loaded.ctx, ask("NOPE"))
    assert not unknown.result and "NOPE" in (unknown.message or "")
    with pytest.raises(NotFound):
        await loaded.service.validate_code(
            loaded.ctx,
            ValidateCodeRequest((Coding("http://nowhere", "a"),), code_system="http://nowhere"),
        )


async def test_validate_code_against_a_value_set(loaded: Any) -> None:
    def ask(*codings: Coding, **where: Any) -> ValidateCodeRequest:
        return ValidateCodeRequest(codings, **({"value_set_url": VS} | where))

    assert (await loaded.service.validate_code(loaded.ctx, ask(Coding(DISORDERS, "STREP")))).result
    outside = await loaded.service.validate_code(loaded.ctx, ask(Coding(DISORDERS, "TUM")))
    assert not outside.result and VS in (outside.message or "")
    by_id = ask(Coding(DISORDERS, "VIR"), value_set_url=None, value_set_id="vs")
    assert (await loaded.service.validate_code(loaded.ctx, by_id)).result
    inline = ask(
        Coding(LAB, "GLU"), value_set_url=None, value_set=value_set("u", [{"system": LAB}])
    )
    assert (await loaded.service.validate_code(loaded.ctx, inline)).result
    with pytest.raises(NotFound):
        await loaded.service.validate_code(
            loaded.ctx, ask(Coding(DISORDERS, "BAC"), value_set_url="http://nowhere/vs")
        )


async def test_a_codeable_concept_is_valid_when_any_coding_is(loaded: Any) -> None:
    both = ValidateCodeRequest(
        (Coding(DISORDERS, "TUM"), Coding(DISORDERS, "FLU")), value_set_url=VS
    )
    assert (await loaded.service.validate_code(loaded.ctx, both)).result
    neither = ValidateCodeRequest((Coding(DISORDERS, "TUM"), Coding(LAB, "GLU")), value_set_url=VS)
    assert not (await loaded.service.validate_code(loaded.ctx, neither)).result
    with pytest.raises(BadRequest):
        await loaded.service.validate_code(loaded.ctx, ValidateCodeRequest((), value_set_url=VS))


@pytest.mark.parametrize(
    ("a", "b", "outcome"),
    [
        ("INF", "INF", Subsumption.EQUIVALENT),
        ("INF", "STREP", Subsumption.SUBSUMES),
        ("COVID", "VIR", Subsumption.SUBSUMED_BY),
        ("BAC", "VIR", Subsumption.NOT_SUBSUMED),
    ],
)
async def test_subsumes(loaded: Any, a: str, b: str, outcome: Subsumption) -> None:
    assert await loaded.service.subsumes(loaded.ctx, SubsumesRequest(DISORDERS, a, b)) is outcome


async def test_subsumes_of_an_unknown_code_is_not_found(loaded: Any) -> None:
    with pytest.raises(NotFound):
        await loaded.service.subsumes(loaded.ctx, SubsumesRequest(DISORDERS, "INF", "NOPE"))
