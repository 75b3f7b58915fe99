"""System level: capabilities, transaction/batch, system history and search."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from polyfhir_gateway.api.bundles import parse_bundle, response_bundle
from polyfhir_gateway.api.capability import capability_statement
from polyfhir_gateway.api.fhir_json import check_accept, fhir_response, read_body
from polyfhir_gateway.api.history_params import history_query
from polyfhir_gateway.api.interactions import history_response, search_response
from polyfhir_gateway.context import FhirContext, fhir_context
from polyfhir_gateway.pipeline import with_warnings, written_version
from polyfhir_gateway.security.audit import note_entries
from polyfhir_gateway.security.smart_configuration import with_security
from polyfhir_gateway.settings import GatewaySettings

router = APIRouter(prefix="/fhir")
Ctx = Annotated[FhirContext, Depends(fhir_context)]


def _version() -> str:
    try:
        return version("polyfhir-gateway")
    except PackageNotFoundError:
        return "0"


@router.get("/metadata")
async def metadata(request: Request) -> Response:
    """Public (no token): describes the server and its issuer."""
    settings: GatewaySettings = request.app.state.settings
    check_accept(request)
    base = (settings.base_url or f"{str(request.base_url).rstrip('/')}/fhir").rstrip("/")
    terminology = request.app.state.pipeline.terminology_ops.available
    statement = capability_statement(base, _version(), terminology=terminology)
    return fhir_response(with_security(statement, settings))


@router.post("")
@router.post("/")
async def transaction_or_batch(fc: Ctx) -> Response:
    body = await read_body(fc.request, fc.settings.max_body_bytes)
    kind, entries = parse_bundle(body, fc.settings.max_bundle_entries)
    responses = await fc.store.process(fc.tenant, kind, entries)
    note_entries(fc.request, [r.location for r in responses])
    warnings = await fc.pipeline.after_write(fc.tenant, responses)
    if warnings:  # SyncMode: every written entry carries the lag warning
        for response in responses:
            if written_version(response) is not None:
                response.outcome = with_warnings(response.outcome, warnings)
    return fhir_response(response_bundle(kind, entries, responses, fc.base, fc.prefer))


@router.get("/_history")
async def system_history(fc: Ctx) -> Response:
    return await history_response(fc, "_history", history_query(fc.request, fc.settings.max_count))


@router.get("")
@router.get("/")
async def system_search(fc: Ctx) -> Response:
    return await search_response(fc, None, list(fc.request.query_params.multi_items()))
