"""``GET [base]/Patient/[id]/$everything``: the patient compartment (graph or primary).

Parameters: ``_type`` (comma-separated types), ``_since`` (instant), ``_count``,
and ``_page`` (the opaque paging token of the ``next`` link: the last key
served). Registered before the compartment-search route, which would read
``$everything`` as a type. ``X-Polyfhir-Route`` names the graph when it walked.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Response

from polyfhir_core.contracts.primary_store import Page
from polyfhir_core.errors import BadRequest
from polyfhir_core.resource_validation import is_resource_type
from polyfhir_core.resources import ResourceKey, check_id, parse_instant
from polyfhir_gateway.api.bundles import searchset
from polyfhir_gateway.api.fhir_json import fhir_response
from polyfhir_gateway.api.interactions import FALLBACK_HEADER, ROUTE_HEADER
from polyfhir_gateway.context import FhirContext, fhir_context
from polyfhir_gateway.pipeline.everything import EverythingRequest

router = APIRouter(prefix="/fhir")
Ctx = Annotated[FhirContext, Depends(fhir_context)]
_KNOWN = {"_type", "_since", "_count", "_page", "_format", "_pretty"}


def everything_request(fc: FhirContext, patient_id: str) -> EverythingRequest:
    params = fc.request.query_params
    unknown = sorted(set(params.keys()) - _KNOWN)
    if unknown:
        raise BadRequest(f"unknown $everything parameter(s): {', '.join(unknown)}")
    types: tuple[str, ...] | None = None
    if "_type" in params:
        types = tuple(t.strip() for t in params["_type"].split(",") if t.strip())
        wrong = [t for t in types if not is_resource_type(t)]
        if wrong or not types:
            raise BadRequest(f"_type: unknown resource type(s) {wrong or params['_type']!r}")
    raw_count = params.get("_count", str(fc.settings.default_count))
    if not raw_count.isdigit() or int(raw_count) < 1:
        raise BadRequest(f"_count must be a positive integer, got {raw_count!r}")
    after = ResourceKey.parse(params["_page"]) if "_page" in params else None
    since = parse_instant(params["_since"]) if "_since" in params else None
    count = min(int(raw_count), fc.settings.max_count)
    return EverythingRequest(check_id(patient_id), types, since, after, count)


@router.get("/Patient/{pid}/$everything")
async def patient_everything(pid: str, fc: Ctx) -> Response:
    request = everything_request(fc, pid)
    page = await fc.pipeline.everything.page(fc.tenant, request)
    path = f"{fc.base}/Patient/{request.patient_id}/$everything"
    pairs = list(fc.request.query_params.multi_items())
    links = {"self": f"{path}?{urlencode(pairs)}" if pairs else path}
    if page.next_after is not None:
        kept = [(k, v) for k, v in pairs if k != "_page"]
        links["next"] = f"{path}?{urlencode([*kept, ('_page', str(page.next_after))])}"
    bundle = searchset(Page(page.resources), fc.base, links)
    headers = {ROUTE_HEADER: ",".join(page.route)}
    if page.fallback:
        headers[FALLBACK_HEADER] = page.fallback
    return fhir_response(bundle, headers=headers)
