"""Parse ``_since``, ``_at``, ``_count`` and ``_page`` of a history interaction."""

from __future__ import annotations

from fastapi import Request

from polyfhir_core.contracts.primary_store import HistoryQuery
from polyfhir_core.errors import BadRequest
from polyfhir_core.input_limits import MAX_INT32, parse_bounded_int
from polyfhir_core.resources import parse_instant
from polyfhir_core.search.dates import require_date_range

_KNOWN = {"_since", "_at", "_count", "_page", "_format", "_pretty"}


def history_query(
    request: Request, max_count: int, rtype: str | None = None, rid: str | None = None
) -> HistoryQuery:
    params = request.query_params
    unknown = sorted(set(params.keys()) - _KNOWN)
    if unknown:
        raise BadRequest(f"unknown history parameter(s): {', '.join(unknown)}")
    since = parse_instant(params["_since"]) if "_since" in params else None
    at = require_date_range(params["_at"], "_at").high if "_at" in params else None
    count = parse_bounded_int("_count", params.get("_count", "50"), minimum=1, maximum=MAX_INT32)
    page = params.get("_page")
    if page is not None:
        page = str(parse_bounded_int("_page token", page))
    return HistoryQuery(rtype, rid, since, at, min(count, max_count), page)
