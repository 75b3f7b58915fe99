"""What one entry asks for, decoded from its method and relative URL (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from polyfhir_core.contracts.primary_store import EntryRequest, Method
from polyfhir_core.errors import BadRequest, MethodNotAllowed
from polyfhir_core.resource_validation import is_resource_type
from polyfhir_core.resources import TYPE_PATTERN, check_id


@dataclass(frozen=True, slots=True)
class Target:
    """``Type``, ``Type/id``, ``Type/id/_history/v`` or ``Type?query``."""

    resource_type: str | None
    id: str | None = None
    version: int | None = None
    query: tuple[tuple[str, str], ...] | None = None
    history: bool = False

    @property
    def is_conditional(self) -> bool:
        return self.query is not None and self.id is None


def parse_target(url: str) -> Target:
    parts = urlsplit(url)
    path = parts.path.strip("/")
    query = tuple(parse_qsl(parts.query, keep_blank_values=True)) if parts.query else None
    segments = [s for s in path.split("/") if s] if path else []
    if not segments:
        return Target(None, query=query)
    rtype = segments[0]
    if not TYPE_PATTERN.match(rtype) or not is_resource_type(rtype):
        if rtype.startswith(("_", "$")):
            return Target(None, query=query, history=rtype == "_history")
        raise BadRequest(f"unknown resource type {rtype!r} in {url!r}")
    if len(segments) == 1:
        return Target(rtype, query=query)
    if segments[1] == "_history" and len(segments) == 2:
        return Target(rtype, query=query, history=True)
    rid = check_id(segments[1])
    if len(segments) == 2:
        return Target(rtype, rid, query=query)
    if segments[2] == "_history":
        if len(segments) == 3:
            return Target(rtype, rid, query=query, history=True)
        if len(segments) == 4 and segments[3].isdigit():
            return Target(rtype, rid, version=int(segments[3]), query=query)
    raise BadRequest(f"unsupported URL {url!r}")


# Transaction processing order (http.html §3.1.0.11.2): deletes, creates,
# updates/patches, then reads.
_ORDER = {
    Method.DELETE: 0,
    Method.POST: 1,
    Method.PUT: 2,
    Method.PATCH: 2,
    Method.GET: 3,
    Method.HEAD: 3,
}


def processing_order(entries: list[EntryRequest]) -> list[int]:
    return sorted(range(len(entries)), key=lambda i: _ORDER[entries[i].method])


def check_method_target(entry: EntryRequest, target: Target) -> None:
    method = entry.method
    if method == Method.POST and (target.resource_type is None or target.id is not None):
        raise MethodNotAllowed(f"POST needs a type URL ('Patient'), got {entry.url!r}")
    if method in (Method.PUT, Method.PATCH) and target.resource_type is None:
        raise BadRequest(f"{method.value} needs 'Type/id' or 'Type?query', got {entry.url!r}")
    if method in (Method.PUT, Method.PATCH) and target.id is None and target.query is None:
        raise MethodNotAllowed(f"{method.value} needs 'Type/id' or 'Type?query', got {entry.url!r}")
    if method == Method.DELETE and target.resource_type is None:
        raise BadRequest(f"DELETE needs 'Type/id' or 'Type?query', got {entry.url!r}")
