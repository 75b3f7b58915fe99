"""Instance level: read, vread, update, patch, delete, instance history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from polyfhir_core.contracts.patch import PLAIN_JSON, Patch, PatchFormat
from polyfhir_core.contracts.primary_store import EntryRequest, Method
from polyfhir_core.errors import BadRequest
from polyfhir_core.input_limits import MAX_INT32, parse_bounded_int
from polyfhir_core.resources import check_id, parse_etag
from polyfhir_gateway.api.conditional_read import is_not_modified
from polyfhir_gateway.api.fhir_json import fhir_response, http_date, media_type, read_body
from polyfhir_gateway.api.history_params import history_query
from polyfhir_gateway.api.interactions import (
    entry_to_http,
    history_response,
    posted_search_pairs,
    require_type,
    run_single,
    search_response,
)
from polyfhir_gateway.context import FhirContext, fhir_context

router = APIRouter(prefix="/fhir")
Ctx = Annotated[FhirContext, Depends(fhir_context)]


def _stored_response(fc: FhirContext, stored: object) -> Response:
    from polyfhir_core.resources import StoredResource

    assert isinstance(stored, StoredResource)
    headers = {"ETag": stored.etag, "Last-Modified": http_date(stored.last_updated)}
    return fhir_response(stored.response_json(), 200, headers)


@router.get("/{rtype}/{rid}/_history/{vid}")
async def vread(rtype: str, rid: str, vid: str, fc: Ctx) -> Response:
    require_type(rtype)
    version = parse_bounded_int("version id", vid, maximum=MAX_INT32)
    stored = await fc.store.vread(fc.tenant, rtype, check_id(rid), version)
    return _stored_response(fc, stored)


@router.get("/{rtype}/{rid}/_history")
async def instance_history(rtype: str, rid: str, fc: Ctx) -> Response:
    require_type(rtype)
    query = history_query(fc.request, fc.settings.max_count, rtype, check_id(rid))
    return await history_response(fc, f"{rtype}/{rid}/_history", query)


@router.get("/{ctype}/{cid}/{rtype}")
async def compartment_search(ctype: str, cid: str, rtype: str, fc: Ctx) -> Response:
    """``GET Patient/123/Observation``: search inside a compartment."""
    require_type(ctype)
    require_type(rtype)
    pairs = list(fc.request.query_params.multi_items())
    return await search_response(fc, rtype, pairs, compartment=(ctype, check_id(cid)))


@router.post("/{ctype}/{cid}/{rtype}/_search")
async def compartment_search_post(ctype: str, cid: str, rtype: str, fc: Ctx) -> Response:
    require_type(ctype)
    require_type(rtype)
    pairs = await posted_search_pairs(fc)
    return await search_response(fc, rtype, pairs, compartment=(ctype, check_id(cid)))


@router.get("/{rtype}/{rid}")
async def read(rtype: str, rid: str, fc: Ctx) -> Response:
    require_type(rtype)
    stored = await fc.store.read(fc.tenant, rtype, check_id(rid))
    headers = fc.request.headers
    if is_not_modified(
        if_none_match=headers.get("if-none-match"),
        if_modified_since=headers.get("if-modified-since"),
        etag=stored.etag,
        version=stored.version,
        last_updated=stored.last_updated,
    ):
        not_modified = {"ETag": stored.etag, "Last-Modified": http_date(stored.last_updated)}
        return Response(status_code=304, headers=not_modified)
    return _stored_response(fc, stored)


@router.put("/{rtype}/{rid}")
async def update(rtype: str, rid: str, fc: Ctx) -> Response:
    require_type(rtype)
    body = await read_body(fc.request, fc.settings.max_body_bytes)
    if not isinstance(body, dict):
        raise BadRequest("the body must be a resource")
    if body.get("id") is None:
        raise BadRequest("an update must carry the resource id in the body (it must match the URL)")
    if_match = fc.request.headers.get("if-match")
    if if_match is not None:
        parse_etag(if_match)
    entry = EntryRequest(Method.PUT, f"{rtype}/{check_id(rid)}", body, if_match=if_match)
    return entry_to_http(fc, await run_single(fc, entry))


_PATCH_MEDIA_TYPES = {kind.value for kind in PatchFormat} | {PLAIN_JSON}


@router.patch("/{rtype}/{rid}")
async def patch(rtype: str, rid: str, fc: Ctx) -> Response:
    """JSON Patch, JSON Merge Patch, or FHIRPath Patch (a Parameters body); see Patch.of."""
    require_type(rtype)
    body = await read_body(fc.request, fc.settings.max_body_bytes, allowed=_PATCH_MEDIA_TYPES)
    entry = EntryRequest(
        Method.PATCH,
        f"{rtype}/{check_id(rid)}",
        patch=Patch.of(media_type(fc.request) or PatchFormat.JSON_PATCH.value, body),
        if_match=fc.request.headers.get("if-match"),
    )
    return entry_to_http(fc, await run_single(fc, entry))


@router.delete("/{rtype}/{rid}")
async def delete(rtype: str, rid: str, fc: Ctx) -> Response:
    require_type(rtype)
    entry = EntryRequest(
        Method.DELETE, f"{rtype}/{check_id(rid)}", if_match=fc.request.headers.get("if-match")
    )
    return entry_to_http(fc, await run_single(fc, entry))
