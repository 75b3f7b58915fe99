"""The write interactions, each inside one open session (one DB transaction).

create, update (incl. update-as-create), patch, delete, and their conditional
forms. Each returns the entry response and the version written (or None when
nothing was written). Callers decide transaction boundaries.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from polyfhir_bus.events import ChangeKind, ResourceChanged
from polyfhir_core.contracts.patch import Patch
from polyfhir_core.contracts.primary_store import EntryResponse, ResourceVersion
from polyfhir_core.errors import BadRequest, Gone, NotFound, PreconditionFailed, Unprocessable
from polyfhir_core.indexing.custom import custom_definition, is_active
from polyfhir_core.indexing.index_values import IndexValues
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_core.resource_validation import validate_resource
from polyfhir_core.resources import Json, StoredResource, format_instant, parse_etag
from polyfhir_core.tenancy import Operation, TenantContext
from polyfhir_primary.adapters.database import Session, VersionRecord
from polyfhir_primary.domain.patching import apply_patch
from polyfhir_primary.service_layer.access import require_write_inside, visible

Written = tuple[EntryResponse, StoredResource | None]
Finder = Callable[..., Awaitable[list[StoredResource]]]


def _validate(resource: Any, rtype: str) -> Json:
    """R4 validity, plus for SearchParameter: a definition this server can index."""
    body = validate_resource(resource, rtype)
    if rtype == "SearchParameter" and is_active(body):
        custom_definition(body)
    return body


@dataclass(slots=True)
class WriteContext:
    session: Session
    ctx: TenantContext
    now: datetime
    new_id: Callable[[], str]
    index: Callable[[Json], IndexValues]
    find: Finder  # (session, type, query string, limit=2) -> matches
    registry: SearchParameterRegistry | None = None  # for compartment checks of confined callers

    def require_inside(self, operation: Operation, stored: StoredResource | None) -> None:
        """A confined caller's write must find and leave the resource in its compartment."""
        if self.registry is not None:
            require_write_inside(self.ctx.permissions, operation, stored, self.registry, self.index)

    def sees(self, operation: Operation, stored: StoredResource) -> bool:
        """Does a confined caller's compartment hold ``stored`` (always, unconfined)?"""
        return self.registry is None or visible(
            self.ctx.permissions, operation, stored, self.registry, self.index
        )

    def require_visible(self, operation: Operation, stored: StoredResource) -> StoredResource:
        """``stored``, or NotFound when a confined caller's compartment does not hold it."""
        if not self.sees(operation, stored):
            raise NotFound(f"{stored.resource_type}/{stored.id} not found")
        return stored


def stamp(resource: Json, rid: str, version: int, now: datetime) -> Json:
    meta = dict(resource.get("meta") or {})
    meta["versionId"] = str(version)
    meta["lastUpdated"] = format_instant(now)
    rest = {k: v for k, v in resource.items() if k not in ("resourceType", "id", "meta")}
    return {"resourceType": resource["resourceType"], "id": rid, "meta": meta, **rest}


def response_for(stored: StoredResource, status: int) -> EntryResponse:
    return EntryResponse(
        status=status,
        location=stored.version_path,
        etag=stored.etag,
        last_modified=stored.last_updated,
        resource=stored.content,
    )


async def _save(w: WriteContext, stored: StoredResource, method: str, previous: int | None) -> None:
    kind = (
        ChangeKind.DELETED
        if stored.deleted
        else (ChangeKind.CREATED if previous is None else ChangeKind.UPDATED)
    )
    event = ResourceChanged(
        tenant=w.ctx.tenant.value,
        resource_type=stored.resource_type,
        resource_id=stored.id,
        version=stored.version,
        kind=kind,
        last_updated=stored.last_updated,
        resource=stored.content,
    )
    index = w.index(stored.content) if stored.content is not None else None
    await w.session.save(VersionRecord(stored, method, index, event), previous)


async def _write(
    w: WriteContext,
    rtype: str,
    rid: str,
    resource: Json,
    current: StoredResource | None,
    method: str,
) -> Written:
    operation = _WRITE_OPERATIONS[method]
    if current is not None and not current.deleted:
        w.require_inside(operation, current)
    version = current.version + 1 if current is not None else 1
    content = stamp(resource, rid, version, w.now)
    stored = StoredResource(w.ctx.tenant, rtype, rid, version, w.now, False, content)
    w.require_inside(operation, stored)
    await _save(w, stored, method, current.version if current is not None else None)
    created = current is None or current.deleted
    response = response_for(stored, 201 if created else 200)
    response.written = _version_of(stored)
    return response, stored


def _version_of(stored: StoredResource) -> ResourceVersion:
    return ResourceVersion(stored.resource_type, stored.id, stored.version, stored.deleted)


_WRITE_OPERATIONS = {"POST": Operation.CREATE, "PUT": Operation.UPDATE, "PATCH": Operation.PATCH}


def _check_if_match(current: StoredResource | None, if_match: str | None) -> None:
    if if_match is None:
        return
    expected = parse_etag(if_match)
    if current is None or current.deleted:
        raise PreconditionFailed(f"If-Match {if_match}: the resource does not exist")
    if current.version != expected:
        raise PreconditionFailed(
            f'If-Match {if_match} does not match the current version W/"{current.version}"'
        )


async def create(w: WriteContext, rtype: str, resource: Json, rid: str | None = None) -> Written:
    w.ctx.permissions.require(Operation.CREATE, rtype)
    body = _validate(resource, rtype)
    return await _write(w, rtype, rid or w.new_id(), body, None, "POST")


async def update(
    w: WriteContext, rtype: str, rid: str, resource: Json, if_match: str | None = None
) -> Written:
    w.ctx.permissions.require(Operation.UPDATE, rtype)
    body = _validate(resource, rtype)
    if body.get("id") is None:
        raise BadRequest("an update must carry the resource id in the body")
    if body["id"] != rid:
        raise BadRequest(f"resource id {body['id']!r} does not match the URL id {rid!r}")
    current = await w.session.current(rtype, rid, lock=True)
    _check_if_match(current, if_match)
    return await _write(w, rtype, rid, body, current, "PUT")


async def patch(
    w: WriteContext,
    rtype: str,
    rid: str,
    document: Patch,
    if_match: str | None = None,
) -> Written:
    w.ctx.permissions.require(Operation.PATCH, rtype)
    current = await w.session.current(rtype, rid, lock=True)
    if current is None:
        raise NotFound(f"{rtype}/{rid} not found")
    if current.deleted:
        raise Gone(f"{rtype}/{rid} was deleted")
    _check_if_match(current, if_match)
    assert current.content is not None
    patched = apply_patch(document, current.content)
    if (
        not isinstance(patched, dict)
        or patched.get("id") != rid
        or patched.get("resourceType") != rtype
    ):
        raise Unprocessable("a patch may not change resourceType or id")
    body = _validate(patched, rtype)
    return await _write(w, rtype, rid, body, current, "PATCH")


async def delete(w: WriteContext, rtype: str, rid: str, if_match: str | None = None) -> Written:
    w.ctx.permissions.require(Operation.DELETE, rtype)
    current = await w.session.current(rtype, rid, lock=True)
    if current is not None and not current.deleted and not w.sees(Operation.DELETE, current):
        current = None  # outside a confined caller's compartment: answered as a missing one
    if current is None or current.deleted:
        if if_match is not None:
            raise PreconditionFailed(f"If-Match {if_match}: {rtype}/{rid} does not exist")
        return EntryResponse(status=204), None
    _check_if_match(current, if_match)
    stored = StoredResource(w.ctx.tenant, rtype, rid, current.version + 1, w.now, True, None)
    await _save(w, stored, "DELETE", current.version)
    response = EntryResponse(status=204, etag=stored.etag, last_modified=w.now)
    response.written = _version_of(stored)
    return response, stored


async def conditional_delete(w: WriteContext, rtype: str, query: str) -> Written:
    await w.session.lock_condition(rtype, query)
    matches = await w.find(w.session, rtype, query)
    if len(matches) > 1:
        raise PreconditionFailed(
            f"conditional delete {rtype}?{query} matched {len(matches)} resources; "
            "this server deletes a single match only"
        )
    if not matches:
        return EntryResponse(status=204), None
    return await delete(w, rtype, matches[0].id)
