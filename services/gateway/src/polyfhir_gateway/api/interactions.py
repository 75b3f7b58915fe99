"""Shared steps of every interaction: run entries, turn an entry response into HTTP."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from urllib.parse import parse_qsl

import orjson
from fastapi import Response

from polyfhir_core.contracts.primary_store import (
    BundleKind,
    EntryRequest,
    EntryResponse,
    HistoryQuery,
    Page,
)
from polyfhir_core.errors import NotFound, NotSupported, UnsupportedMediaType, information
from polyfhir_core.projection import select_elements, summarize
from polyfhir_core.resource_validation import is_resource_type
from polyfhir_core.resources import Json
from polyfhir_core.search import SearchQuery, parse_search
from polyfhir_gateway.api.bundles import history_bundle, searchset
from polyfhir_gateway.api.fhir_json import fhir_response, http_date, media_type, read_bytes
from polyfhir_gateway.api.search_links import link, paging_links
from polyfhir_gateway.context import FhirContext
from polyfhir_gateway.pipeline import with_warnings
from polyfhir_gateway.security.audit import note_entries, note_returned

ROUTE_HEADER = "X-Polyfhir-Route"
FALLBACK_HEADER = "X-Polyfhir-Fallback"
OUTCOME_HEADER = "X-Polyfhir-Outcome"


def require_type(rtype: str) -> str:
    if not is_resource_type(rtype):
        raise NotFound(f"unknown resource type {rtype!r}")
    return rtype


async def run_single(fc: FhirContext, entry: EntryRequest) -> EntryResponse:
    """Run one write; under SyncMode wait for the synchronous secondaries (warnings on lag)."""
    (response,) = await fc.store.process(fc.tenant, BundleKind.TRANSACTION, [entry])
    note_entries(fc.request, [response.location])
    warnings = await fc.pipeline.after_write(fc.tenant, [response])
    if warnings:
        response.outcome = with_warnings(response.outcome, warnings)
    return response


def ascii_json(value: object) -> str:
    """Compact JSON with every non-ASCII character escaped (safe as an HTTP header value)."""
    text = orjson.dumps(value).decode("utf-8")
    out = []
    for ch in text:
        code = ord(ch)
        if code < 0x80:
            out.append(ch)
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            high, low = divmod(code - 0x10000, 0x400)
            out.append(f"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04x}")
    return "".join(out)


def _warnings(outcome: Json | None) -> list[Json]:
    issues = outcome.get("issue", []) if outcome else []
    return [i for i in issues if isinstance(i, dict) and i.get("severity") == "warning"]


def entry_to_http(
    fc: FhirContext, r: EntryResponse, *, default_return: str = "representation"
) -> Response:
    headers: dict[str, str] = {}
    if r.etag:
        headers["ETag"] = r.etag
    if r.last_modified:
        headers["Last-Modified"] = http_date(r.last_modified)
    if r.location and r.status in (200, 201):
        headers["Location"] = f"{fc.base}/{r.location}"
    warnings = _warnings(r.outcome)
    if warnings:  # e.g. a synchronous secondary did not apply the write in time
        outcome = {"resourceType": "OperationOutcome", "issue": warnings}
        headers[OUTCOME_HEADER] = ascii_json(outcome)
    wanted = fc.prefer.return_ or default_return
    if r.status == 204 or wanted == "minimal":
        return fhir_response(None, r.status, headers)
    if wanted == "OperationOutcome":
        message = f"{r.status}: {r.location or 'done'}"
        body = r.outcome or information(message)
        if warnings and len(warnings) == len(body.get("issue", [])):
            body = {**body, "issue": [*information(message)["issue"], *warnings]}
        return fhir_response(body, r.status, headers)
    return fhir_response(r.resource, r.status, headers)


def search_links(fc: FhirContext, path: str, query: SearchQuery, page: Page) -> dict[str, str]:
    count = query.count if query.count is not None else fc.settings.default_count
    return paging_links(fc.base, path, query, page, min(count, fc.settings.max_count))


def _projection(query: SearchQuery) -> Callable[[Json], Json] | None:
    if query.elements:
        return lambda resource: select_elements(resource, query.elements)
    if query.summary in ("true", "text", "data"):
        return lambda resource: summarize(resource, query.summary)
    return None


_FORM = "application/x-www-form-urlencoded"


async def posted_search_pairs(fc: FhirContext) -> list[tuple[str, str]]:
    """``POST [base]/[type]/_search``: parameters from the query string and the form body."""
    kind = media_type(fc.request)
    if kind and kind != _FORM:
        raise UnsupportedMediaType(f"POST _search takes {_FORM}, got {kind!r}")
    raw = (await read_bytes(fc.request, fc.settings.max_body_bytes)).decode("utf-8", "replace")
    return list(fc.request.query_params.multi_items()) + parse_qsl(raw, keep_blank_values=True)


async def search_response(
    fc: FhirContext,
    rtype: str | None,
    pairs: list[tuple[str, str]],
    compartment: tuple[str, str] | None = None,
) -> Response:
    query = parse_search(rtype, pairs)
    if compartment is not None:
        query = replace(query, compartment=compartment)
    result = await fc.pipeline.search(fc.tenant, query)
    page = result.page
    note_returned(fc.request, [*page.resources, *page.included])
    if page.ignored and fc.prefer.handling == "strict":
        raise NotSupported(f"unknown or unsupported search parameter(s): {', '.join(page.ignored)}")
    path = rtype or ""
    if compartment is not None:
        path = f"{compartment[0]}/{compartment[1]}/{path}"
    bundle = searchset(page, fc.base, search_links(fc, path, query, page), _projection(query))
    if query.summary == "count":
        bundle.pop("entry", None)
    headers = {ROUTE_HEADER: ",".join(result.route)}
    if result.fallback:
        headers[FALLBACK_HEADER] = result.fallback
    return fhir_response(bundle, headers=headers)


async def history_response(fc: FhirContext, path: str, query: HistoryQuery) -> Response:
    page = await fc.store.history(fc.tenant, query)
    note_returned(fc.request, page.resources)
    pairs = [(k, v) for k, v in fc.request.query_params.multi_items() if k != "_page"]
    links = {"self": link(fc.base, path, list(fc.request.query_params.multi_items()))}
    if page.next_token is not None:
        links["next"] = link(fc.base, path, [*pairs, ("_page", page.next_token)])
    return fhir_response(history_bundle(page, fc.base, links))
