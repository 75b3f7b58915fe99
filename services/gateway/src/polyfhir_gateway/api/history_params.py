"""Parse ``_since``, ``_at``, ``_count`` and ``_page`` of a history interaction."""

from __future__ import annotations

from fastapi import Request

from polyfhir_core.contracts.primary_store import HistoryQuery
from polyfhir_core.errors import BadRequest
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
    raw_count = params.get("_count", "50")
    if not raw_count.isdigit() or int(raw_count) < 1:
        raise BadRequest(f"_count must be a positive integer, got {raw_count!r}")
    page = params.get("_page")
    if page is not None and not page.isdigit():
        raise BadRequest(f"invalid _page token {page!r}")
    return HistoryQuery(rtype, rid, since, at, min(int(raw_count), max_count), page)
