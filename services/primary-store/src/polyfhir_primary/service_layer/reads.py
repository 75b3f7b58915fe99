"""Reads inside a session: read, vread, and search as a bundle entry."""

from __future__ import annotations

from urllib.parse import urlencode

from polyfhir_core.contracts.primary_store import EntryResponse
from polyfhir_core.errors import BadRequest, Gone, NotFound
from polyfhir_core.resources import StoredResource
from polyfhir_core.tenancy import Operation
from polyfhir_primary.adapters.database import Session
from polyfhir_primary.domain.entries import Target
from polyfhir_primary.service_layer.writes import WriteContext, response_for


async def read_current(session: Session, rtype: str, rid: str) -> StoredResource:
    stored = await session.current(rtype, rid)
    if stored is None:
        raise NotFound(f"{rtype}/{rid} not found")
    if stored.deleted:
        raise Gone(f"{rtype}/{rid} was deleted (version {stored.version})")
    return stored


async def read_version(session: Session, rtype: str, rid: str, version: int) -> StoredResource:
    stored = await session.version(rtype, rid, version)
    if stored is None:
        raise NotFound(f"{rtype}/{rid}/_history/{version} not found")
    if stored.deleted:
        raise Gone(f"{rtype}/{rid}/_history/{version} is a deletion")
    return stored


async def read_entry(w: WriteContext, target: Target) -> EntryResponse:
    """GET inside a bundle: read, vread or search (rendered as a searchset)."""
    rtype = target.resource_type
    if rtype is None or target.history:
        raise BadRequest("only read, vread and search are supported as GET entries")
    if target.id is not None:
        w.ctx.permissions.require(Operation.READ, rtype)
        if target.version is not None:
            stored = await read_version(w.session, rtype, target.id, target.version)
        else:
            stored = await read_current(w.session, rtype, target.id)
        return response_for(w.require_visible(Operation.READ, stored), 200)
    w.ctx.permissions.require(Operation.SEARCH, rtype)
    found = await w.find(w.session, rtype, urlencode(target.query or ()), limit=100)
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(found),
        "entry": [
            {
                "fullUrl": f"{s.resource_type}/{s.id}",
                "resource": s.content,
                "search": {"mode": "match"},
            }
            for s in found
        ],
    }
    return EntryResponse(status=200, resource=bundle)
