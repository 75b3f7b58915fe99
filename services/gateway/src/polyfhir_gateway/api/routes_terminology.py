"""The FHIR terminology operations (docs/terminology-operations.md).

``CodeSystem/$lookup``, ``CodeSystem[/id]/$validate-code``,
``CodeSystem[/id]/$subsumes``, ``ValueSet[/id]/$validate-code``,
``ValueSet[/id]/$expand``, ``ConceptMap[/id]/$translate``: GET (query
parameters) and POST (a ``Parameters`` body), answered by the terminology
index (:class:`polyfhir_gateway.terminology.operations.TerminologyOperations`).

Each is a read of the type it is defined on: the caller needs the read scope
of ``CodeSystem``, ``ValueSet`` or ``ConceptMap``; the tenant is the caller's,
as everywhere. Registered before the type and instance routes, which would
read ``$expand`` as an id.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from polyfhir_core.contracts.terminology import TerminologyIndex, TranslateRequest, TranslateResult
from polyfhir_core.errors import BadRequest
from polyfhir_core.resources import check_id
from polyfhir_core.tenancy import Operation
from polyfhir_gateway.api.fhir_json import fhir_response, read_body
from polyfhir_gateway.api.interactions import ROUTE_HEADER
from polyfhir_gateway.context import FhirContext, fhir_context
from polyfhir_gateway.terminology import code_system_requests as cs
from polyfhir_gateway.terminology import operation_results as results
from polyfhir_gateway.terminology import value_set_requests as vs
from polyfhir_gateway.terminology.code_system_requests import CodeSystemRef
from polyfhir_gateway.terminology.operation_input import OperationInput

router = APIRouter(prefix="/fhir")
Ctx = Annotated[FhirContext, Depends(fhir_context)]
BOTH = ["GET", "POST"]


def answered(body: dict[str, Any], route: str) -> Response:
    """The operation's answer; ``X-Polyfhir-Route`` names the index that answered."""
    return fhir_response(body, headers={ROUTE_HEADER: route})


async def operation_input(
    fc: FhirContext,
    resource_type: str,
    operation: str,
    names: tuple[frozenset[str], frozenset[str]],
) -> OperationInput:
    """The caller may read ``resource_type``; its parameters, checked against ``names``
    (known, unsupported)."""
    fc.tenant.permissions.require(Operation.READ, resource_type)
    label = f"{resource_type}/${operation}"
    if fc.request.method == "POST":
        body = await read_body(fc.request, fc.settings.max_body_bytes)
        given = OperationInput.of_parameters(label, body)
    else:
        given = OperationInput.of_query(label, fc.request.query_params.multi_items())
    known, unsupported = names
    given.check_names(known, unsupported, strict=fc.prefer.handling == "strict")
    return given


async def code_system_ref(fc: FhirContext, cid: str) -> CodeSystemRef:
    """The instance's canonical and version, read from the primary (404 if unknown)."""
    stored = await fc.store.read(fc.tenant, "CodeSystem", check_id(cid))
    content = stored.content or {}
    url, version = content.get("url"), content.get("version")
    if not isinstance(url, str) or not url:
        raise BadRequest(f"CodeSystem/{cid} has no url: the operation needs its canonical")
    return CodeSystemRef(url, version if isinstance(version, str) else None)


@router.api_route("/CodeSystem/$lookup", methods=BOTH)
async def lookup(fc: Ctx) -> Response:
    names = (cs.LOOKUP_PARAMS, cs.LOOKUP_UNSUPPORTED)
    request = cs.lookup_request(await operation_input(fc, "CodeSystem", "lookup", names))
    found, route = await fc.pipeline.terminology_ops.call(
        lambda index: index.lookup(fc.tenant, request)
    )
    return answered(results.lookup_parameters(found), route)


async def _code_system_validate(fc: FhirContext, cid: str | None) -> Response:
    names = (cs.CS_VALIDATE_PARAMS, cs.CS_VALIDATE_UNSUPPORTED)
    given = await operation_input(fc, "CodeSystem", "validate-code", names)
    instance = await code_system_ref(fc, cid) if cid is not None else None
    request = cs.code_system_validate_request(given, instance)
    found, route = await fc.pipeline.terminology_ops.call(
        lambda index: index.validate_code(fc.tenant, request)
    )
    return answered(results.validate_code_parameters(found), route)


@router.api_route("/CodeSystem/$validate-code", methods=BOTH)
async def code_system_validate(fc: Ctx) -> Response:
    return await _code_system_validate(fc, None)


@router.api_route("/CodeSystem/{cid}/$validate-code", methods=BOTH)
async def code_system_instance_validate(cid: str, fc: Ctx) -> Response:
    return await _code_system_validate(fc, cid)


async def _subsumes(fc: FhirContext, cid: str | None) -> Response:
    names = (cs.SUBSUMES_PARAMS, frozenset[str]())
    given = await operation_input(fc, "CodeSystem", "subsumes", names)
    instance = await code_system_ref(fc, cid) if cid is not None else None
    request = cs.subsumes_request(given, instance)
    outcome, route = await fc.pipeline.terminology_ops.call(
        lambda index: index.subsumes(fc.tenant, request)
    )
    return answered(results.subsumes_parameters(outcome), route)


@router.api_route("/CodeSystem/$subsumes", methods=BOTH)
async def subsumes(fc: Ctx) -> Response:
    return await _subsumes(fc, None)


@router.api_route("/CodeSystem/{cid}/$subsumes", methods=BOTH)
async def code_system_instance_subsumes(cid: str, fc: Ctx) -> Response:
    return await _subsumes(fc, cid)


async def _value_set_validate(fc: FhirContext, vid: str | None) -> Response:
    names = (vs.VS_VALIDATE_PARAMS, vs.VS_VALIDATE_UNSUPPORTED)
    given = await operation_input(fc, "ValueSet", "validate-code", names)
    request = vs.value_set_validate_request(given, check_id(vid) if vid is not None else None)
    found, route = await fc.pipeline.terminology_ops.call(
        lambda index: index.validate_code(fc.tenant, request)
    )
    return answered(results.validate_code_parameters(found), route)


@router.api_route("/ValueSet/$validate-code", methods=BOTH)
async def value_set_validate(fc: Ctx) -> Response:
    return await _value_set_validate(fc, None)


@router.api_route("/ValueSet/{vid}/$validate-code", methods=BOTH)
async def value_set_instance_validate(vid: str, fc: Ctx) -> Response:
    return await _value_set_validate(fc, vid)


async def _expand(fc: FhirContext, vid: str | None) -> Response:
    names = (vs.EXPAND_PARAMS, vs.EXPAND_UNSUPPORTED)
    given = await operation_input(fc, "ValueSet", "expand", names)
    resource_id = check_id(vid) if vid is not None else None
    request = vs.expand_request(given, resource_id)
    expansion, route = await fc.pipeline.terminology_ops.call(
        lambda index: index.expand(fc.tenant, request)
    )
    return answered(results.expanded_value_set(expansion, request, resource_id), route)


@router.api_route("/ValueSet/$expand", methods=BOTH)
async def expand(fc: Ctx) -> Response:
    return await _expand(fc, None)


@router.api_route("/ValueSet/{vid}/$expand", methods=BOTH)
async def value_set_instance_expand(vid: str, fc: Ctx) -> Response:
    return await _expand(fc, vid)


async def _translate(fc: FhirContext, mid: str | None) -> Response:
    names = (vs.TRANSLATE_PARAMS, vs.TRANSLATE_UNSUPPORTED)
    given = await operation_input(fc, "ConceptMap", "translate", names)
    requests = vs.translate_requests(given, check_id(mid) if mid is not None else None)

    found, route = await fc.pipeline.terminology_ops.call(
        lambda index: _translate_all(index, fc, requests)
    )
    return answered(results.translate_parameters(found), route)


async def _translate_all(
    index: TerminologyIndex, fc: FhirContext, requests: tuple[TranslateRequest, ...]
) -> tuple[TranslateResult, ...]:
    return tuple([await index.translate(fc.tenant, r) for r in requests])


@router.api_route("/ConceptMap/$translate", methods=BOTH)
async def translate(fc: Ctx) -> Response:
    return await _translate(fc, None)


@router.api_route("/ConceptMap/{mid}/$translate", methods=BOTH)
async def concept_map_instance_translate(mid: str, fc: Ctx) -> Response:
    return await _translate(fc, mid)
