"""Transaction and batch processing (http.html §3.1.0.11).

A transaction runs every entry inside one database transaction: ids are
assigned and conditional creates/updates resolved first, then ``urn:uuid``
and conditional references are rewritten, then entries run in FHIR's
processing order (DELETE, POST, PUT/PATCH, GET). Any failure rolls back all
of it. A batch runs each entry as its own transaction.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import orjson

from polyfhir_core.contracts.primary_store import EntryRequest, EntryResponse, Method
from polyfhir_core.errors import BadRequest, FhirError, NotSupported, PreconditionFailed
from polyfhir_core.resources import Json, ResourceKey
from polyfhir_primary.domain.entries import (
    Target,
    check_method_target,
    parse_target,
    processing_order,
)
from polyfhir_primary.domain.reference_rewriting import (
    is_conditional_reference,
    iter_references,
    rewrite_references,
)
from polyfhir_primary.service_layer import reads, writes
from polyfhir_primary.service_layer.writes import WriteContext


@dataclass(slots=True)
class Prepared:
    """One entry after identity resolution."""

    entry: EntryRequest
    target: Target
    resource: Json | None
    rid: str | None = None  # id this entry writes (assigned or matched)
    matched: EntryResponse | None = None  # conditional create that matched
    extra: dict[str, str] = field(default_factory=dict)


def _query_string(target: Target) -> str:
    from urllib.parse import urlencode

    return urlencode(target.query or ())


async def _resolve_identity(w: WriteContext, p: Prepared, refs: dict[str, str]) -> None:
    entry, target = p.entry, p.target
    rtype = target.resource_type
    if entry.method == Method.POST and rtype:
        if entry.if_none_exist:
            await w.session.lock_condition(rtype, entry.if_none_exist)
            found = await w.find(w.session, rtype, entry.if_none_exist)
            if len(found) > 1:
                raise PreconditionFailed(
                    f"ifNoneExist {entry.if_none_exist!r} matched {len(found)} resources"
                )
            if found:
                p.rid, p.matched = found[0].id, writes.response_for(found[0], 200)
        p.rid = p.rid or w.new_id()
    elif entry.method in (Method.PUT, Method.PATCH, Method.DELETE) and rtype:
        if target.id is not None:
            p.rid = target.id
        elif entry.method == Method.PUT:
            query = _query_string(target)
            await w.session.lock_condition(rtype, query)
            found = await w.find(w.session, rtype, query)
            if len(found) > 1:
                raise PreconditionFailed(
                    f"conditional update {entry.url!r} matched {len(found)} resources"
                )
            body_id = (p.resource or {}).get("id")
            if found and body_id is not None and body_id != found[0].id:
                raise BadRequest(
                    f"resource id {body_id!r} differs from the matched resource {found[0].id!r}"
                )
            p.rid = found[0].id if found else (body_id if isinstance(body_id, str) else w.new_id())
    if entry.full_url and p.rid and rtype and entry.method in (Method.POST, Method.PUT):
        refs[entry.full_url] = f"{rtype}/{p.rid}"


async def _rewrite(w: WriteContext, p: Prepared, refs: dict[str, str]) -> None:
    if p.resource is None:
        return
    references = list(iter_references(p.resource))
    conditional: dict[str, str] = {}
    for ref in _conditional(references):
        rtype, _, query = ref.partition("?")
        found = await w.find(w.session, rtype, query)
        if len(found) != 1:
            raise PreconditionFailed(
                f"conditional reference {ref!r} matched {len(found)} resources (exactly 1 required)"
            )
        conditional[ref] = f"{rtype}/{found[0].id}"

    def replace(ref: str) -> str | None:
        if ref in refs:
            return refs[ref]
        if ref in conditional:
            return conditional[ref]
        if ref.startswith(("urn:uuid:", "urn:oid:")):
            raise BadRequest(f"reference {ref!r} does not match any fullUrl in the bundle")
        return None

    rewrite_references(p.resource, replace, references)


def _conditional(references: list[Json]) -> list[str]:
    return [r["reference"] for r in references if is_conditional_reference(r["reference"])]


async def _execute(w: WriteContext, p: Prepared) -> EntryResponse:
    entry, target, rtype = p.entry, p.target, p.target.resource_type
    if p.matched is not None:
        return p.matched
    if entry.method in (Method.GET, Method.HEAD):
        return await reads.read_entry(w, target)
    if rtype is None or p.rid is None:
        if entry.method == Method.DELETE and target.query is not None and rtype:
            return (await writes.conditional_delete(w, rtype, _query_string(target)))[0]
        raise BadRequest(f"cannot process {entry.method.value} {entry.url!r}")
    if entry.method == Method.POST:
        assert p.resource is not None
        return (await writes.create(w, rtype, p.resource, p.rid))[0]
    if entry.method == Method.PUT:
        if p.resource is None:
            raise BadRequest(f"PUT {entry.url!r} has no resource")
        body = p.resource if target.id is not None else {**p.resource, "id": p.rid}
        return (await writes.update(w, rtype, p.rid, body, entry.if_match))[0]
    if entry.method == Method.PATCH:
        if entry.patch is None:
            raise BadRequest(f"PATCH {entry.url!r} carries no patch document")
        return (await writes.patch(w, rtype, p.rid, entry.patch, entry.if_match))[0]
    return (await writes.delete(w, rtype, p.rid, entry.if_match))[0]


def _copy(resource: Any) -> Any:
    """A deep copy the entry may rewrite: through orjson (several times faster than
    ``copy.deepcopy`` on JSON), or ``deepcopy`` for what orjson cannot write."""
    try:
        return orjson.loads(orjson.dumps(resource))
    except TypeError:
        return copy.deepcopy(resource)


def _prepare(entries: list[EntryRequest]) -> list[Prepared]:
    prepared = []
    for entry in entries:
        target = parse_target(entry.url)
        check_method_target(entry, target)
        if entry.method in (Method.POST, Method.PUT) and not isinstance(entry.resource, dict):
            raise BadRequest(f"{entry.method.value} {entry.url!r} needs a resource")
        if entry.method == Method.PATCH and target.id is None:
            raise NotSupported("conditional PATCH is not supported; PATCH Type/id")
        resource = _copy(entry.resource) if entry.resource is not None else None
        prepared.append(Prepared(entry, target, resource))
    return prepared


def _check_overlap(prepared: list[Prepared]) -> None:
    seen: set[str] = set()
    for p in prepared:
        if p.entry.method in (Method.GET, Method.HEAD) or p.rid is None or p.matched is not None:
            continue
        key = f"{p.target.resource_type}/{p.rid}"
        if key in seen:
            raise BadRequest(f"transaction touches {key} more than once")
        seen.add(key)


def _written_keys(prepared: list[Prepared]) -> list[ResourceKey]:
    """The existing resources the entries update, patch or delete (each once: overlap
    was checked), read together before the entries run."""
    return [
        ResourceKey(p.target.resource_type, p.rid)
        for p in prepared
        if p.entry.method in (Method.PUT, Method.PATCH, Method.DELETE)
        and p.matched is None
        and p.rid is not None
        and p.target.resource_type is not None
    ]


async def run_transaction(w: WriteContext, entries: list[EntryRequest]) -> list[EntryResponse]:
    prepared = _prepare(entries)
    refs: dict[str, str] = {}
    for p in prepared:
        await _resolve_identity(w, p, refs)
    _check_overlap(prepared)
    await w.session.prefetch_current(_written_keys(prepared))
    for p in prepared:
        await _rewrite(w, p, refs)
    responses: list[EntryResponse | None] = [None] * len(prepared)
    for index in processing_order(entries):
        try:
            responses[index] = await _execute(w, prepared[index])
        except FhirError as exc:
            exc.message = (
                f"entry {index} ({entries[index].method.value} {entries[index].url}): {exc.message}"
            )
            raise
    for p, response in zip(prepared, responses, strict=True):
        if (
            response is not None
            and response.status in (200, 201)
            and p.rid
            and response.location is None
        ):
            response.location = f"{p.target.resource_type}/{p.rid}"
    return [r for r in responses if r is not None]
