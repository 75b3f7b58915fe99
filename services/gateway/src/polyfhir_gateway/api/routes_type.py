"""Type level: create (incl. conditional), search, conditional update/delete, type history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from polyfhir_core.contracts.primary_store import EntryRequest, Method
from polyfhir_core.errors import BadRequest
from polyfhir_gateway.api.fhir_json import read_body
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


def _conditional_query(fc: FhirContext, what: str) -> str:
    query = fc.request.url.query
    if not query:
        raise BadRequest(f"{what} without an id needs search criteria in the query string")
    return query


@router.get("/{rtype}/_history")
async def type_history(rtype: str, fc: Ctx) -> Response:
    require_type(rtype)
    return await history_response(
        fc, f"{rtype}/_history", history_query(fc.request, fc.settings.max_count, rtype)
    )


@router.post("/{rtype}/_search")
async def search_post(rtype: str, fc: Ctx) -> Response:
    require_type(rtype)
    return await search_response(fc, rtype, await posted_search_pairs(fc))


@router.get("/{rtype}")
async def search(rtype: str, fc: Ctx) -> Response:
    require_type(rtype)
    return await search_response(fc, rtype, list(fc.request.query_params.multi_items()))


@router.post("/{rtype}")
async def create(rtype: str, fc: Ctx) -> Response:
    require_type(rtype)
    body = await read_body(fc.request, fc.settings.max_body_bytes)
    if not isinstance(body, dict):
        raise BadRequest("the body must be a resource")
    condition = fc.request.headers.get("if-none-exist")
    if condition is not None:
        condition = condition.split("?", 1)[-1]
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k != "id"}  # create ignores a client id
    entry = EntryRequest(Method.POST, rtype, body, if_none_exist=condition or None)
    return entry_to_http(fc, await run_single(fc, entry))


@router.put("/{rtype}")
async def conditional_update(rtype: str, fc: Ctx) -> Response:
    require_type(rtype)
    query = _conditional_query(fc, "PUT")
    body = await read_body(fc.request, fc.settings.max_body_bytes)
    if not isinstance(body, dict):
        raise BadRequest("the body must be a resource")
    entry = EntryRequest(
        Method.PUT, f"{rtype}?{query}", body, if_match=fc.request.headers.get("if-match")
    )
    return entry_to_http(fc, await run_single(fc, entry))


@router.delete("/{rtype}")
async def conditional_delete(rtype: str, fc: Ctx) -> Response:
    require_type(rtype)
    entry = EntryRequest(Method.DELETE, f"{rtype}?{_conditional_query(fc, 'DELETE')}")
    return entry_to_http(fc, await run_single(fc, entry))
