"""``$everything`` on Patient: the patient compartment (graph or primary).

- ``GET [base]/Patient/[id]/$everything``: one patient's compartment, paged by
  key: ``_count`` resources a page, ``_page`` the last key served.
- ``GET [base]/Patient/$everything``: a page of patients (``_count`` patients,
  ``_page`` the offset of the page) with all of their compartments; a page
  whose compartments hold more than ``cost.max_shipped_ids`` resources is
  refused (400: ask for fewer patients a page).

Both take ``_type`` (comma-separated types) and ``_since`` (instant).
Registered before the read and compartment-search routes, which would read
``$everything`` as an id or a type. ``X-Polyfhir-Route`` names the graph when
it walked.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Response

from polyfhir_core.contracts.primary_store import Page
from polyfhir_core.errors import BadRequest
from polyfhir_core.resource_validation import is_resource_type
from polyfhir_core.resources import ResourceKey, check_id, parse_instant
from polyfhir_core.search import SearchQuery
from polyfhir_gateway.api.bundles import searchset
from polyfhir_gateway.api.fhir_json import fhir_response
from polyfhir_gateway.api.interactions import FALLBACK_HEADER, ROUTE_HEADER
from polyfhir_gateway.context import FhirContext, fhir_context
from polyfhir_gateway.pipeline.everything import EverythingPage, EverythingRequest

router = APIRouter(prefix="/fhir")
Ctx = Annotated[FhirContext, Depends(fhir_context)]
_KNOWN = {"_type", "_since", "_count", "_page", "_format", "_pretty"}


def _types(fc: FhirContext) -> tuple[str, ...] | None:
    params = fc.request.query_params
    if "_type" not in params:
        return None
    types = tuple(t.strip() for t in params["_type"].split(",") if t.strip())
    wrong = [t for t in types if not is_resource_type(t)]
    if wrong or not types:
        raise BadRequest(f"_type: unknown resource type(s) {wrong or params['_type']!r}")
    return types


def _count(fc: FhirContext) -> int:
    raw = fc.request.query_params.get("_count", str(fc.settings.default_count))
    if not raw.isdigit() or int(raw) < 1:
        raise BadRequest(f"_count must be a positive integer, got {raw!r}")
    return min(int(raw), fc.settings.max_count)


def _check_known(fc: FhirContext) -> None:
    unknown = sorted(set(fc.request.query_params.keys()) - _KNOWN)
    if unknown:
        raise BadRequest(f"unknown $everything parameter(s): {', '.join(unknown)}")


def everything_request(fc: FhirContext, patient_id: str) -> EverythingRequest:
    _check_known(fc)
    params = fc.request.query_params
    after = ResourceKey.parse(params["_page"]) if "_page" in params else None
    since = parse_instant(params["_since"]) if "_since" in params else None
    return EverythingRequest((check_id(patient_id),), _types(fc), since, after, _count(fc))


def _links(fc: FhirContext, path: str, next_page: str | None) -> dict[str, str]:
    pairs = list(fc.request.query_params.multi_items())
    links = {"self": f"{path}?{urlencode(pairs)}" if pairs else path}
    if next_page is not None:
        kept = [(k, v) for k, v in pairs if k != "_page"]
        links["next"] = f"{path}?{urlencode([*kept, ('_page', next_page)])}"
    return links


def _bundle(fc: FhirContext, page: EverythingPage, links: dict[str, str]) -> Response:
    bundle = searchset(Page(page.resources), fc.base, links)
    headers = {ROUTE_HEADER: ",".join(page.route)}
    if page.fallback:
        headers[FALLBACK_HEADER] = page.fallback
    return fhir_response(bundle, headers=headers)


@router.get("/Patient/$everything")
async def patients_everything(fc: Ctx) -> Response:
    _check_known(fc)
    params = fc.request.query_params
    since = parse_instant(params["_since"]) if "_since" in params else None
    offset = params.get("_page", "0")  # the primary pages a search by offset
    if not offset.isdigit():
        raise BadRequest(f"invalid _page token {offset!r}")
    patients = await fc.store.search(
        fc.tenant,
        SearchQuery("Patient", count=_count(fc), offset=int(offset), elements=("id",)),
    )
    ids = tuple(r.id for r in patients.resources)
    cap = fc.pipeline.config.cost.max_shipped_ids
    request = EverythingRequest(ids, _types(fc), since, None, cap)
    page = (
        await fc.pipeline.everything.page(fc.tenant, request)
        if ids
        else EverythingPage([], None, (fc.pipeline.config.primary.id,))
    )
    if page.next_after is not None:
        raise BadRequest(
            f"these {len(ids)} patients hold more than {cap} resources: "
            "ask for fewer patients a page (_count)"
        )
    path = f"{fc.base}/Patient/$everything"
    return _bundle(fc, page, _links(fc, path, patients.next_token))


@router.get("/Patient/{pid}/$everything")
async def patient_everything(pid: str, fc: Ctx) -> Response:
    request = everything_request(fc, pid)
    await fc.store.read(fc.tenant, "Patient", request.patient_ids[0])  # 404 if unknown
    page = await fc.pipeline.everything.page(fc.tenant, request)
    path = f"{fc.base}/Patient/{request.patient_ids[0]}/$everything"
    next_page = str(page.next_after) if page.next_after is not None else None
    return _bundle(fc, page, _links(fc, path, next_page))
