"""$expand over the store, on SQLite and PostgreSQL: every compose feature and filter,
the text filter, paging and total, the size limit, the cache and its invalidation."""

from __future__ import annotations

from typing import Any

import pytest

from fakes.terminology_data import DISORDERS, LAB, disorders, is_a, lab, value_set
from polyfhir_core.contracts.terminology import ExpandRequest
from polyfhir_core.errors import BadRequest, FhirError, NotFound, NotSupported

pytestmark = pytest.mark.integration
ALL = {"DIS", "INF", "BAC", "STREP", "VIR", "FLU", "COVID", "TUM"}


@pytest.fixture
async def loaded(harness: Any) -> Any:
    assert (
        await harness.apply(harness.put("cs", 1, disorders()), harness.put("lab", 1, lab())) == []
    )
    return harness


async def codes(h: Any, *include: dict[str, Any], **request: Any) -> set[str]:
    exclude = request.pop("exclude", None)
    vs = value_set("http://x/inline", list(include), exclude)
    expansion = await h.service.expand(h.ctx, ExpandRequest(value_set=vs, **request))
    return {e.code for e in expansion.contains}


def prop(property: str, op: str, value: str, system: str = DISORDERS) -> dict[str, Any]:
    return {"system": system, "filter": [{"property": property, "op": op, "value": value}]}


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        (is_a("INF"), {"INF", "BAC", "STREP", "VIR", "FLU", "COVID"}),
        (is_a("INF", op="descendent-of"), {"BAC", "STREP", "VIR", "FLU", "COVID"}),
        (is_a("INF", op="is-not-a"), {"DIS", "TUM"}),
        (is_a("COVID", op="generalizes"), {"COVID", "VIR", "INF", "DIS"}),
        (prop("concept", "=", "TUM"), {"TUM"}),
        (prop("severity", "=", "high"), {"STREP", "TUM"}),
        (prop("severity", "in", "low,medium"), {"BAC", "VIR"}),
        (prop("severity", "not-in", "high"), ALL - {"STREP", "TUM"}),
        (prop("concept", "regex", "[A-D].*"), {"DIS", "BAC", "COVID"}),
        (prop("severity", "regex", "h.*"), {"STREP", "TUM"}),
        (prop("severity", "exists", "true"), {"BAC", "STREP", "VIR", "TUM"}),
        (prop("severity", "exists", "false"), {"DIS", "INF", "FLU", "COVID"}),
        (prop("parent", "=", "VIR"), {"FLU", "COVID"}),
        ({"system": DISORDERS}, ALL),
    ],
)
async def test_every_filter(loaded: Any, section: dict[str, Any], expected: set[str]) -> None:
    assert await codes(loaded, section) == expected


async def test_filters_of_one_section_are_anded(loaded: Any) -> None:
    section = is_a("INF")
    section["filter"].append({"property": "severity", "op": "exists", "value": "true"})
    assert await codes(loaded, section) == {"BAC", "STREP", "VIR"}


async def test_explicit_concepts_keep_their_order_and_given_display(loaded: Any) -> None:
    vs = value_set(
        "http://x/vs",
        [
            {
                "system": DISORDERS,
                "concept": [
                    {"code": "TUM", "display": "Neoplasm"},
                    {"code": "BAC"},
                    {"code": "NOPE"},
                ],
            }
        ],
    )
    expansion = await loaded.service.expand(loaded.ctx, ExpandRequest(value_set=vs))
    assert [(e.code, e.display) for e in expansion.contains] == [
        ("TUM", "Neoplasm"),
        ("BAC", "Bacterial infection"),
    ]


async def test_excludes_subtract(loaded: Any) -> None:
    assert await codes(loaded, is_a("INF"), exclude=[is_a("VIR")]) == {"INF", "BAC", "STREP"}


async def test_imports_are_intersected(loaded: Any) -> None:
    h = loaded
    await h.apply(
        h.put("infections", 1, value_set("http://x/infections", [is_a("INF")])),
        h.put("severe", 1, value_set("http://x/severe", [prop("severity", "=", "high")])),
    )
    assert await codes(h, {"valueSet": ["http://x/infections", "http://x/severe"]}) == {"STREP"}
    with_system = {
        "system": DISORDERS,
        "concept": [{"code": "STREP"}, {"code": "TUM"}],
        "valueSet": ["http://x/infections"],
    }
    assert await codes(h, with_system) == {"STREP"}
    with pytest.raises(NotFound):
        await codes(h, {"valueSet": ["http://x/unknown"]})


async def test_an_import_cycle_is_a_bad_request(loaded: Any) -> None:
    h = loaded
    await h.apply(
        h.put("a", 1, value_set("http://x/a", [{"valueSet": ["http://x/b"]}])),
        h.put("b", 1, value_set("http://x/b", [{"valueSet": ["http://x/a"]}])),
    )
    with pytest.raises(BadRequest):
        await h.service.expand(h.ctx, ExpandRequest(value_set_url="http://x/a"))


async def test_unknown_systems_and_unsupported_filters(loaded: Any) -> None:
    with pytest.raises(NotFound):
        await codes(loaded, is_a("X", system="http://nowhere"))
    listed = {"system": "http://nowhere", "concept": [{"code": "x", "display": "X"}]}
    assert await codes(loaded, listed) == {"x"}  # listed codes of a system we do not hold
    with pytest.raises(NotSupported):
        await codes(loaded, prop("concept", "child-of", "INF"))


async def test_text_filter_matches_word_prefixes_of_displays_and_designations(loaded: Any) -> None:
    everything = {"system": DISORDERS}
    assert await codes(loaded, everything, filter="infec") == {"INF", "BAC", "STREP", "VIR"}
    assert await codes(loaded, everything, filter="VIRAL INF") == {"VIR"}
    assert await codes(loaded, everything, filter="bakter") == {"BAC"}  # a designation
    assert await codes(loaded, everything, filter="covid-19") == {"COVID"}
    assert await codes(loaded, everything, filter="fection") == set()  # not a word prefix


async def test_active_only_designations_and_display_language(loaded: Any) -> None:
    h = loaded
    assert "FLU" not in await codes(h, is_a("VIR"), active_only=True)
    vs = value_set("u", [is_a("BAC")])
    plain = await h.service.expand(h.ctx, ExpandRequest(value_set=vs))
    assert all(e.designations == () for e in plain.contains)
    rich = await h.service.expand(
        h.ctx, ExpandRequest(value_set=vs, include_designations=True, display_language="de")
    )
    bac = next(e for e in rich.contains if e.code == "BAC")
    assert bac.display == "Bakterielle Infektion" and bac.designations[0].language == "de"
    flu = next(
        e
        for e in (
            await h.service.expand(h.ctx, ExpandRequest(value_set=value_set("u", [is_a("FLU")])))
        ).contains
    )
    assert flu.inactive
    root = await h.service.expand(
        h.ctx, ExpandRequest(value_set=value_set("u", [prop("concept", "=", "DIS")]))
    )
    assert root.contains[0].abstract


async def test_paging_says_the_total(loaded: Any) -> None:
    h = loaded
    await h.apply(
        h.put("all", 1, value_set("http://x/all", [{"system": DISORDERS}, {"system": LAB}]))
    )
    first = await h.service.expand(h.ctx, ExpandRequest(value_set_url="http://x/all", count=4))
    second = await h.service.expand(
        h.ctx, ExpandRequest(value_set_url="http://x/all", offset=4, count=4)
    )
    assert (first.total, second.total, second.offset) == (10, 10, 4)
    assert len(first.contains) == 4 and len(second.contains) == 4
    seen = [(e.system, e.code) for e in (*first.contains, *second.contains)]
    assert len(set(seen)) == 8
    assert first.url == "http://x/all" and first.identifier.startswith("urn:uuid:")


def _big_code_system(n: int) -> dict[str, Any]:
    concepts = [{"code": f"C{i:04d}", "display": f"Concept {i}"} for i in range(n)]
    return {"resourceType": "CodeSystem", "url": "http://x/big", "concept": concepts}


async def test_the_size_limit_refuses_only_the_unpaged_expansion(harness: Any) -> None:
    h = harness  # the harness allows 50 listed codes
    await h.apply(
        h.put("big", 1, _big_code_system(120)),
        h.put("vs", 1, value_set("http://x/bigvs", [{"system": "http://x/big"}])),
    )
    with pytest.raises(FhirError) as refused:
        await h.service.expand(h.ctx, ExpandRequest(value_set_url="http://x/bigvs"))
    assert refused.value.status == 400
    assert refused.value.outcome()["issue"][0]["code"] == "too-costly"
    page = await h.service.expand(
        h.ctx, ExpandRequest(value_set_url="http://x/bigvs", offset=100, count=50)
    )
    assert (page.total, len(page.contains)) == (120, 20)
    capped = await h.service.expand(h.ctx, ExpandRequest(value_set_url="http://x/bigvs", count=500))
    assert len(capped.contains) == 50
    narrowed = await h.service.expand(
        h.ctx, ExpandRequest(value_set_url="http://x/bigvs", filter="concept 11")
    )
    assert narrowed.total == 11  # 11, 110..119


async def test_a_changed_code_system_changes_the_cached_expansion(loaded: Any) -> None:
    h = loaded
    await h.apply(h.put("vs", 1, value_set("http://x/inf", [is_a("INF")])))
    request = ExpandRequest(value_set_url="http://x/inf")
    before = await h.service.expand(h.ctx, request)
    assert before.total == 6
    assert await h.store.cached_expansion(h.tenant, "vs|1") is not None
    changed = disorders()
    changed["concept"][0]["concept"][0]["concept"].append(
        {"code": "FUN", "display": "Fungal infection"}
    )
    await h.apply(h.put("cs", 2, changed))
    assert await h.store.cached_expansion(h.tenant, "vs|1") is None
    after = await h.service.expand(h.ctx, request)
    assert after.total == 7 and "FUN" in {e.code for e in after.contains}
    assert after.identifier != before.identifier


async def test_a_changed_imported_value_set_changes_the_importer(loaded: Any) -> None:
    h = loaded
    await h.apply(
        h.put("inner", 1, value_set("http://x/inner", [is_a("VIR")])),
        h.put("outer", 1, value_set("http://x/outer", [{"valueSet": ["http://x/inner"]}])),
    )
    assert (await h.service.expand(h.ctx, ExpandRequest(value_set_url="http://x/outer"))).total == 3
    await h.apply(h.put("inner", 2, value_set("http://x/inner", [is_a("BAC")])))
    after = await h.service.expand(h.ctx, ExpandRequest(value_set_url="http://x/outer"))
    assert {e.code for e in after.contains} == {"BAC", "STREP"}


async def test_a_value_set_is_found_by_url_version_or_id(loaded: Any) -> None:
    h = loaded
    vs = value_set("http://x/v", [is_a("TUM")]) | {"version": "2.0"}
    await h.apply(h.put("v", 1, vs))
    for request in (
        ExpandRequest(value_set_url="http://x/v|2.0"),
        ExpandRequest(value_set_id="v"),
    ):
        assert (await h.service.expand(h.ctx, request)).version == "2.0"
    for request in (
        ExpandRequest(value_set_url="http://x/v|1.0"),
        ExpandRequest(value_set_id="nope"),
    ):
        with pytest.raises(NotFound):
            await h.service.expand(h.ctx, request)
    with pytest.raises(BadRequest):
        await h.service.expand(h.ctx, ExpandRequest())


async def test_a_replica_never_answers_from_an_expansion_another_replica_replaced(
    loaded: Any, th: Any
) -> None:
    h, replica = loaded, th(loaded.store, tenant=loaded.tenant)  # two processes, one store
    await h.apply(h.put("vs", 1, value_set("http://x/inf", [is_a("INF")])))
    request = ExpandRequest(value_set_url="http://x/inf")
    assert (await replica.service.expand(replica.ctx, request)).total == 6  # remembered there
    changed = disorders()
    changed["concept"][0]["concept"][0]["concept"].append({"code": "FUN", "display": "Fungal"})
    await h.apply(h.put("cs", 2, changed))
    assert (await h.service.expand(h.ctx, request)).total == 7  # recomputed and stored here
    assert (await replica.service.expand(replica.ctx, request)).total == 7
