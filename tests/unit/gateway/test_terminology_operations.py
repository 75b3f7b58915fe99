"""The terminology operations over the gateway's API, against the in-memory terminology
index: GET and POST forms, the output shapes of R4, every 4xx, the 503 without a
backend, scopes, and the CapabilityStatement."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from polyfhir_core.errors import ServiceUnavailable
from polyfhir_core.tenancy import Grant, Operation, TenantPermissions
from unit.gateway.terminology_harness import (
    LOCAL,
    MAP,
    PRIMARY,
    SYSTEM,
    VS,
    TerminologyGateway,
    build_gateway,
)

Json = dict[str, Any]


@pytest.fixture
def gw(tmp_path: Path) -> TerminologyGateway:
    return build_gateway(tmp_path)


def out(body: Json, name: str) -> list[Json]:
    return [p for p in body["parameter"] if p["name"] == name]


def one(body: Json, name: str) -> Json:
    found = out(body, name)
    assert len(found) == 1, body
    return found[0]


def parts(parameter: Json) -> dict[str, Json]:
    return {p["name"]: p for p in parameter["part"]}


def params(*items: tuple[str, Json]) -> Json:
    return {"resourceType": "Parameters", "parameter": [{"name": n, **v} for n, v in items]}


async def get(gw: TerminologyGateway, path: str, **headers: str) -> httpx.Response:
    async with gw.client(**headers) as c:
        return await c.get(f"/fhir/{path}")


async def post(gw: TerminologyGateway, path: str, body: Any, **headers: str) -> httpx.Response:
    async with gw.client(**headers) as c:
        return await c.post(f"/fhir/{path}", json=body)


def issue_code(response: httpx.Response) -> str:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    code: str = body["issue"][0]["code"]
    return code


# -- $lookup ---------------------------------------------------------------------------


async def test_lookup_get_answers_name_version_display_and_properties(
    gw: TerminologyGateway,
) -> None:
    answer = await get(gw, f"CodeSystem/$lookup?system={SYSTEM}&code=A1")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["resourceType"] == "Parameters"
    assert one(body, "name")["valueString"] == "conditions"
    assert one(body, "version")["valueString"] == "2026"
    assert one(body, "display")["valueString"] == "Viral infection"
    props = {
        (parts(p)["code"]["valueCode"], parts(p)["value"]["valueCode"])
        for p in out(body, "property")
    }
    assert props == {("parent", "A"), ("child", "A11")}


async def test_lookup_post_with_a_coding_and_a_property_filter(gw: TerminologyGateway) -> None:
    body = params(
        ("coding", {"valueCoding": {"system": SYSTEM, "code": "A1"}}),
        ("property", {"valueCode": "parent"}),
    )
    answer = await post(gw, "CodeSystem/$lookup", body)
    assert answer.status_code == 200, answer.text
    props = [parts(p)["code"]["valueCode"] for p in out(answer.json(), "property")]
    assert props == ["parent"]


async def test_lookup_accepts_application_json(gw: TerminologyGateway) -> None:
    body = params(("system", {"valueUri": SYSTEM}), ("code", {"valueCode": "A"}))
    async with gw.client() as c:
        answer = await c.post(
            "/fhir/CodeSystem/$lookup",
            content=httpx.Request("POST", "/", json=body).content,
            headers={"content-type": "application/json"},
        )
    assert answer.status_code == 200, answer.text
    assert one(answer.json(), "display")["valueString"] == "Infection"


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("code=A1", 400),  # no system
        (f"system={SYSTEM}", 400),  # no code
        (f"system={SYSTEM}&code=A1&coding={SYSTEM}|A2", 400),  # contradictory
        (f"system={SYSTEM}&code=A1&date=2020", 400),  # unsupported parameter
        (f"system={SYSTEM}&code=A1&code=A2", 400),  # a 0..1 parameter twice
        (f"system={SYSTEM}&code=ZZ", 404),  # unknown code
        ("system=http://unknown&code=A1", 404),  # unknown system
    ],
)
async def test_lookup_errors(gw: TerminologyGateway, query: str, status: int) -> None:
    answer = await get(gw, f"CodeSystem/$lookup?{query}")
    assert answer.status_code == status, answer.text
    issue_code(answer)


async def test_unknown_parameters_are_ignored_unless_strict(gw: TerminologyGateway) -> None:
    path = f"CodeSystem/$lookup?system={SYSTEM}&code=A&bogus=1"
    assert (await get(gw, path)).status_code == 200
    strict = await get(gw, path, prefer="handling=strict")
    assert strict.status_code == 400
    assert "bogus" in strict.json()["issue"][0]["diagnostics"]


async def test_a_post_body_that_is_not_parameters_is_400(gw: TerminologyGateway) -> None:
    answer = await post(gw, "CodeSystem/$lookup", {"resourceType": "Patient"})
    assert answer.status_code == 400
    assert issue_code(answer) == "invalid"


# -- $validate-code --------------------------------------------------------------------


async def test_code_system_validate_code_with_display_check(gw: TerminologyGateway) -> None:
    ok = await get(gw, f"CodeSystem/$validate-code?url={SYSTEM}&code=A1&display=Viral infection")
    assert ok.status_code == 200, ok.text
    assert one(ok.json(), "result")["valueBoolean"] is True
    assert one(ok.json(), "display")["valueString"] == "Viral infection"
    wrong = await get(gw, f"CodeSystem/$validate-code?url={SYSTEM}&code=A1&display=Flu")
    assert one(wrong.json(), "result")["valueBoolean"] is False
    assert "Flu" in one(wrong.json(), "message")["valueString"]
    unknown = await get(gw, f"CodeSystem/$validate-code?url={SYSTEM}&code=ZZ")
    assert one(unknown.json(), "result")["valueBoolean"] is False


async def test_code_system_instance_validate_code_reads_the_canonical(
    gw: TerminologyGateway,
) -> None:
    resource = {
        "resourceType": "CodeSystem",
        "url": SYSTEM,
        "status": "active",
        "content": "complete",
    }
    async with gw.client() as c:
        created = await c.post("/fhir/CodeSystem", json=resource)
    assert created.status_code == 201, created.text
    cid = created.json()["id"]
    answer = await post(
        gw, f"CodeSystem/{cid}/$validate-code", params(("code", {"valueCode": "A11"}))
    )
    assert answer.status_code == 200, answer.text
    assert one(answer.json(), "result")["valueBoolean"] is True
    missing = await get(gw, "CodeSystem/nope/$validate-code?code=A11")
    assert missing.status_code == 404


async def test_value_set_validate_code_by_url_id_and_codeable_concept(
    gw: TerminologyGateway,
) -> None:
    inside = await get(gw, f"ValueSet/$validate-code?url={VS}&system={SYSTEM}&code=A11")
    assert one(inside.json(), "result")["valueBoolean"] is True
    outside = await get(gw, f"ValueSet/infections/$validate-code?system={SYSTEM}&code=A2")
    assert one(outside.json(), "result")["valueBoolean"] is False
    concept = {"coding": [{"system": SYSTEM, "code": "B"}, {"system": SYSTEM, "code": "A1"}]}
    body = params(("url", {"valueUri": VS}), ("codeableConcept", {"valueCodeableConcept": concept}))
    answer = await post(gw, "ValueSet/$validate-code", body)
    assert answer.status_code == 200, answer.text
    assert one(answer.json(), "result")["valueBoolean"] is True


async def test_value_set_validate_code_against_an_inline_value_set(gw: TerminologyGateway) -> None:
    inline = {
        "resourceType": "ValueSet",
        "status": "active",
        "compose": {"include": [{"system": SYSTEM, "concept": [{"code": "B"}]}]},
    }
    body = params(
        ("valueSet", {"resource": inline}),
        ("coding", {"valueCoding": {"system": SYSTEM, "code": "B"}}),
    )
    answer = await post(gw, "ValueSet/$validate-code", body)
    assert answer.status_code == 200, answer.text
    assert one(answer.json(), "result")["valueBoolean"] is True


@pytest.mark.parametrize(
    "query",
    [
        f"system={SYSTEM}&code=A1",  # no value set
        f"url={VS}&code=A1",  # code without a system
        f"url={VS}&system={SYSTEM}",  # nothing to validate
        f"url={VS}&system={SYSTEM}&code=A1&coding={SYSTEM}|A1",  # two forms
        f"url={VS}&system={SYSTEM}&code=A1&context=x",  # unsupported
        f"url={VS}|1&valueSetVersion=2&system={SYSTEM}&code=A1",  # two versions
        f"url={VS}&valueSet=x&system={SYSTEM}&code=A1",  # inline in a GET
    ],
)
async def test_value_set_validate_code_bad_requests(gw: TerminologyGateway, query: str) -> None:
    answer = await get(gw, f"ValueSet/$validate-code?{query}")
    assert answer.status_code == 400, answer.text


async def test_value_set_validate_code_of_an_unknown_value_set_is_404(
    gw: TerminologyGateway,
) -> None:
    answer = await get(gw, f"ValueSet/$validate-code?url=http://nope&system={SYSTEM}&code=A1")
    assert answer.status_code == 404
    assert issue_code(answer) == "not-found"


# -- $subsumes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "outcome"),
    [
        ("A", "A11", "subsumes"),
        ("A11", "A", "subsumed-by"),
        ("A1", "A1", "equivalent"),
        ("A1", "A2", "not-subsumed"),
    ],
)
async def test_subsumes_outcomes(gw: TerminologyGateway, a: str, b: str, outcome: str) -> None:
    answer = await get(gw, f"CodeSystem/$subsumes?system={SYSTEM}&codeA={a}&codeB={b}")
    assert answer.status_code == 200, answer.text
    assert one(answer.json(), "outcome")["valueCode"] == outcome


async def test_subsumes_with_codings_in_post(gw: TerminologyGateway) -> None:
    body = params(
        ("codingA", {"valueCoding": {"system": SYSTEM, "code": "A"}}),
        ("codingB", {"valueCoding": {"system": SYSTEM, "code": "A2"}}),
    )
    answer = await post(gw, "CodeSystem/$subsumes", body)
    assert one(answer.json(), "outcome")["valueCode"] == "subsumes"


async def test_subsumes_at_instance_level_uses_the_code_systems_canonical(
    gw: TerminologyGateway,
) -> None:
    resource = {
        "resourceType": "CodeSystem",
        "url": SYSTEM,
        "status": "active",
        "content": "complete",
    }
    async with gw.client() as c:
        created = await c.post("/fhir/CodeSystem", json=resource)
    assert created.status_code == 201, created.text
    cid = created.json()["id"]
    answer = await get(gw, f"CodeSystem/{cid}/$subsumes?codeA=A&codeB=A11")
    assert answer.status_code == 200, answer.text
    assert one(answer.json(), "outcome")["valueCode"] == "subsumes"
    other = await get(gw, f"CodeSystem/{cid}/$subsumes?system=http://other&codeA=A&codeB=A1")
    assert other.status_code == 400  # the system contradicts the instance's url
    assert (await get(gw, "CodeSystem/nope/$subsumes?codeA=A&codeB=A1")).status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        "codeA=A&codeB=A1",  # no system
        f"system={SYSTEM}&codeA=A",  # no codeB
        f"system={SYSTEM}&codingA=http://other|A&codeB=A1",  # systems disagree
    ],
)
async def test_subsumes_bad_requests(gw: TerminologyGateway, query: str) -> None:
    assert (await get(gw, f"CodeSystem/$subsumes?{query}")).status_code == 400


# -- $expand ---------------------------------------------------------------------------


async def test_expand_by_url_pages_with_total_and_parameters(gw: TerminologyGateway) -> None:
    answer = await get(gw, f"ValueSet/$expand?url={VS}&count=1&offset=1")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["resourceType"] == "ValueSet" and body["url"] == VS
    expansion = body["expansion"]
    assert expansion["total"] == 2 and expansion["offset"] == 1
    assert [c["code"] for c in expansion["contains"]] == ["A11"]
    assert expansion["contains"][0] == {
        "system": SYSTEM,
        "version": "2026",
        "code": "A11",
        "display": "Influenza",
    }
    assert {"name": "count", "valueInteger": 1} in expansion["parameter"]
    assert expansion["identifier"] and expansion["timestamp"]


async def test_expand_instance_with_a_text_filter(gw: TerminologyGateway) -> None:
    answer = await get(gw, "ValueSet/infections/$expand?filter=infl")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["id"] == "infections"
    assert [c["code"] for c in body["expansion"]["contains"]] == ["A11"]


async def test_expand_an_inline_value_set_active_only(gw: TerminologyGateway) -> None:
    inline = {
        "resourceType": "ValueSet",
        "status": "active",
        "compose": {"include": [{"system": SYSTEM}]},
    }
    body = params(("valueSet", {"resource": inline}), ("activeOnly", {"valueBoolean": True}))
    answer = await post(gw, "ValueSet/$expand", body)
    assert answer.status_code == 200, answer.text
    codes = [c["code"] for c in answer.json()["expansion"]["contains"]]
    assert "B" not in codes and "A" in codes


@pytest.mark.parametrize(
    "query",
    [
        "",  # no value set
        "url=http://a&valueSetVersion=1&valueSet=x",  # inline in a GET
        f"url={VS}&count=-1",
        f"url={VS}&count=many",
        f"url={VS}&activeOnly=yes",
        f"url={VS}&date=2020-01-01",
        f"url={VS}&includeDefinition=true",
    ],
)
async def test_expand_bad_requests(gw: TerminologyGateway, query: str) -> None:
    assert (await get(gw, f"ValueSet/$expand?{query}")).status_code == 400


async def test_expand_instance_and_url_together_is_contradictory(gw: TerminologyGateway) -> None:
    answer = await get(gw, f"ValueSet/infections/$expand?url={VS}")
    assert answer.status_code == 400


async def test_an_unsupported_filter_is_400(gw: TerminologyGateway) -> None:
    inline = {
        "resourceType": "ValueSet",
        "status": "active",
        "compose": {
            "include": [
                {"system": SYSTEM, "filter": [{"property": "x", "op": "regex", "value": "."}]}
            ]
        },
    }
    answer = await post(gw, "ValueSet/$expand", params(("valueSet", {"resource": inline})))
    assert answer.status_code == 400
    assert issue_code(answer) == "not-supported"


async def test_an_expansion_over_the_limit_is_too_costly(gw: TerminologyGateway) -> None:
    assert gw.index is not None
    gw.index.max_expansion = 1
    answer = await get(gw, f"ValueSet/$expand?url={VS}")
    assert answer.status_code == 400
    assert issue_code(answer) == "too-costly"
    paged = await get(gw, f"ValueSet/$expand?url={VS}&count=1")
    assert paged.status_code == 200


async def test_unknown_value_set_id_is_404(gw: TerminologyGateway) -> None:
    assert (await get(gw, "ValueSet/unknown/$expand")).status_code == 404


# -- $translate ------------------------------------------------------------------------


async def test_translate_get_answers_matches(gw: TerminologyGateway) -> None:
    answer = await get(gw, f"ConceptMap/$translate?url={MAP}&system={SYSTEM}&code=A11")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert one(body, "result")["valueBoolean"] is True
    match = parts(one(body, "match"))
    assert match["equivalence"]["valueCode"] == "equivalent"
    assert match["concept"]["valueCoding"] == {"system": LOCAL, "code": "flu"}
    assert match["source"]["valueUri"] == MAP


async def test_translate_instance_reverse_and_no_match(gw: TerminologyGateway) -> None:
    back = await get(gw, f"ConceptMap/to-local/$translate?system={LOCAL}&code=flu&reverse=true")
    assert one(back.json(), "result")["valueBoolean"] is True
    none = await get(gw, f"ConceptMap/$translate?system={SYSTEM}&code=A1")
    assert one(none.json(), "result")["valueBoolean"] is False
    assert out(none.json(), "match") == []
    assert one(none.json(), "message")["valueString"]


async def test_translate_a_codeable_concept_in_post(gw: TerminologyGateway) -> None:
    concept = {"coding": [{"system": SYSTEM, "code": "A1"}, {"system": SYSTEM, "code": "A11"}]}
    body = params(
        ("url", {"valueUri": MAP}), ("codeableConcept", {"valueCodeableConcept": concept})
    )
    answer = await post(gw, "ConceptMap/$translate", body)
    assert answer.status_code == 200, answer.text
    assert one(answer.json(), "result")["valueBoolean"] is True
    assert len(out(answer.json(), "match")) == 1


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("code=A11", 400),  # no system
        (f"system={SYSTEM}", 400),  # nothing to translate
        (f"system={SYSTEM}&code=A11&dependency=x", 400),  # unsupported
        (f"url=http://nope&system={SYSTEM}&code=A11", 404),
    ],
)
async def test_translate_errors(gw: TerminologyGateway, query: str, status: int) -> None:
    assert (await get(gw, f"ConceptMap/$translate?{query}")).status_code == status


# -- availability, tenants, scopes, capabilities ---------------------------------------


async def test_without_a_terminology_backend_the_operations_answer_503(tmp_path: Path) -> None:
    gw = build_gateway(tmp_path, with_index=False, backends=[PRIMARY])
    answer = await get(gw, f"ValueSet/$expand?url={VS}")
    assert answer.status_code == 503
    assert "no terminology backend" in answer.json()["issue"][0]["diagnostics"]
    lookup = await post(gw, "CodeSystem/$lookup", params(("system", {"valueUri": SYSTEM})))
    assert lookup.status_code == 400  # bad input is reported before the backend is needed


async def test_the_route_header_names_the_index_that_answered(tmp_path: Path) -> None:
    configured = build_gateway(tmp_path)
    answer = await get(configured, f"CodeSystem/$lookup?system={SYSTEM}&code=A")
    assert answer.headers["x-polyfhir-route"] == "terminology"
    in_process = build_gateway(tmp_path, with_index=False, backends=[PRIMARY], fallback=True)
    answer = await get(in_process, f"CodeSystem/$lookup?system={SYSTEM}&code=A")
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-polyfhir-route"] == "terminology-fallback"


async def _make_unhealthy(gw: TerminologyGateway) -> None:
    assert gw.index is not None
    gw.index.ready_error = ServiceUnavailable("down")
    health = gw.pipeline.config.health_for(gw.pipeline.config.backend("terminology"))
    for _ in range(health.failure_threshold):
        await gw.pipeline.monitor.check("terminology")


async def test_an_unhealthy_backend_leaves_the_operations_to_the_fallback_index(
    tmp_path: Path,
) -> None:
    gw = build_gateway(tmp_path, fallback=True)
    await _make_unhealthy(gw)
    answer = await get(gw, f"ValueSet/$expand?url={VS}")
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-polyfhir-route"] == "terminology-fallback"


async def test_an_unhealthy_terminology_backend_answers_503(gw: TerminologyGateway) -> None:
    await _make_unhealthy(gw)
    answer = await get(gw, f"CodeSystem/$lookup?system={SYSTEM}&code=A")
    assert answer.status_code == 503
    assert "terminology" in answer.json()["issue"][0]["diagnostics"]


async def test_a_tenant_never_sees_another_tenants_definitions(gw: TerminologyGateway) -> None:
    async with gw.client(**{"X-Tenant-ID": "someone-else"}) as c:
        answer = await c.get(f"/fhir/ValueSet/$expand?url={VS}")
    assert answer.status_code == 404


async def test_operations_need_the_read_scope_of_their_type(gw: TerminologyGateway) -> None:
    gw.restrict(TenantPermissions(grants=(Grant("CodeSystem", frozenset({Operation.READ})),)))
    assert (await get(gw, f"CodeSystem/$lookup?system={SYSTEM}&code=A")).status_code == 200
    refused = await get(gw, f"ValueSet/$expand?url={VS}")
    assert refused.status_code == 403
    assert issue_code(refused) == "forbidden"
    assert (await get(gw, f"ConceptMap/$translate?system={SYSTEM}&code=A11")).status_code == 403


async def test_the_capability_statement_lists_the_operations_only_with_a_backend(
    gw: TerminologyGateway, tmp_path: Path
) -> None:
    async def operations(g: TerminologyGateway, rtype: str) -> set[str]:
        async with g.client() as c:
            statement = (await c.get("/fhir/metadata")).json()
        resource = next(r for r in statement["rest"][0]["resource"] if r["type"] == rtype)
        return {o["definition"] for o in resource.get("operation", [])}

    base = "http://hl7.org/fhir/OperationDefinition/"
    assert await operations(gw, "ValueSet") == {
        f"{base}ValueSet-expand",
        f"{base}ValueSet-validate-code",
    }
    assert await operations(gw, "CodeSystem") == {
        f"{base}CodeSystem-lookup",
        f"{base}CodeSystem-validate-code",
        f"{base}CodeSystem-subsumes",
    }
    assert await operations(gw, "ConceptMap") == {f"{base}ConceptMap-translate"}
    bare = build_gateway(tmp_path, with_index=False, backends=[PRIMARY])
    assert await operations(bare, "ValueSet") == set()
