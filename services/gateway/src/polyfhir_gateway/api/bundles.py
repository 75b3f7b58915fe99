"""Bundles in and out: transaction/batch requests, their responses, searchset and history."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import orjson

from polyfhir_core.contracts.patch import Patch, PatchFormat
from polyfhir_core.contracts.primary_store import (
    BundleKind,
    EntryRequest,
    EntryResponse,
    Method,
    Page,
)
from polyfhir_core.errors import BadRequest, PayloadTooLarge
from polyfhir_core.input_limits import check_json_depth
from polyfhir_core.resources import Json, StoredResource, format_instant
from polyfhir_gateway.api.prefer import Prefer

_BINARY_PATCH_TYPES = (PatchFormat.JSON_PATCH.value, PatchFormat.MERGE_PATCH.value)


def _entry_patch(resource: Json | None, index: int) -> Patch:
    """A PATCH entry's document: a Parameters resource (FHIRPath Patch), or a Binary
    holding a JSON Patch or JSON Merge Patch (http.html#transaction)."""
    if isinstance(resource, dict) and resource.get("resourceType") == "Parameters":
        return Patch(PatchFormat.FHIRPATH_PATCH, resource)
    if not isinstance(resource, dict) or resource.get("resourceType") != "Binary":
        raise BadRequest(
            f"entry {index}: PATCH needs a Parameters resource (FHIRPath Patch) or a Binary"
            " holding a JSON Patch or JSON Merge Patch"
        )
    content_type = resource.get("contentType")
    if content_type not in _BINARY_PATCH_TYPES:
        raise BadRequest(f"entry {index}: Binary.contentType must be one of {_BINARY_PATCH_TYPES}")
    try:
        body = orjson.loads(base64.b64decode(resource.get("data", ""), validate=True))
    except (binascii.Error, orjson.JSONDecodeError, ValueError) as exc:
        raise BadRequest(f"entry {index}: Binary.data is not base64 JSON: {exc}") from exc
    check_json_depth(body)
    try:
        return Patch.of(content_type, body)
    except BadRequest as exc:
        raise BadRequest(f"entry {index}: {exc}") from exc


def _entry(index: int, raw: Any) -> EntryRequest:
    if not isinstance(raw, dict):
        raise BadRequest(f"entry {index} is not an object")
    request = raw.get("request")
    if not isinstance(request, dict):
        raise BadRequest(f"entry {index} has no request")
    method, url = request.get("method"), request.get("url")
    if not isinstance(method, str) or method not in Method.__members__:
        raise BadRequest(f"entry {index}: request.method must be one of {', '.join(Method)}")
    if not isinstance(url, str) or not url:
        raise BadRequest(f"entry {index}: request.method and request.url are required")
    resource = raw.get("resource")
    if resource is not None and not isinstance(resource, dict):
        raise BadRequest(f"entry {index}: resource must be an object")
    patch = _entry_patch(resource, index) if method == "PATCH" else None
    return EntryRequest(
        method=Method(method),
        url=url.lstrip("/"),
        resource=None if method == "PATCH" else resource,
        full_url=raw.get("fullUrl"),
        if_match=request.get("ifMatch"),
        if_none_exist=request.get("ifNoneExist"),
        if_none_match=request.get("ifNoneMatch"),
        patch=patch,
    )


def parse_bundle(body: Any, max_entries: int) -> tuple[BundleKind, list[EntryRequest]]:
    if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
        raise BadRequest("POST to the base URL takes a Bundle of type transaction or batch")
    kind = body.get("type")
    if kind not in ("transaction", "batch"):
        raise BadRequest(f"Bundle.type must be transaction or batch, got {kind!r}")
    entries = body.get("entry") or []
    if not isinstance(entries, list):
        raise BadRequest("Bundle.entry must be an array")
    if len(entries) > max_entries:
        raise PayloadTooLarge(f"bundle has {len(entries)} entries; the limit is {max_entries}")
    return BundleKind(kind), [_entry(i, e) for i, e in enumerate(entries)]


def status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def response_bundle(
    kind: BundleKind,
    requests: list[EntryRequest],
    responses: list[EntryResponse],
    base: str,
    prefer: Prefer,
) -> Json:
    """Transactions and batches answer minimally unless ``Prefer: return=representation``;
    GET entries always carry what they read."""
    entries = []
    for q, r in zip(requests, responses, strict=True):
        response: Json = {"status": status_line(r.status)}
        if r.location:
            response["location"] = r.location
        if r.etag:
            response["etag"] = r.etag
        if r.last_modified:
            response["lastModified"] = format_instant(r.last_modified)
        if r.outcome:
            response["outcome"] = r.outcome
        entry: Json = {"response": response}
        if r.location and r.status in (200, 201):
            entry["fullUrl"] = f"{base}/{'/'.join(r.location.split('/')[:2])}"
        wanted = prefer.return_ == "representation" or q.method in (Method.GET, Method.HEAD)
        if r.resource is not None and wanted:
            entry["resource"] = r.resource
        entries.append(entry)
    return {"resourceType": "Bundle", "type": f"{kind.value}-response", "entry": entries}


def searchset(
    page: Page, base: str, links: dict[str, str], project: Callable[[Json], Json] | None = None
) -> Json:
    bundle: Json = {"resourceType": "Bundle", "type": "searchset"}
    if page.total is not None:
        bundle["total"] = page.total
    bundle["link"] = [{"relation": rel, "url": url} for rel, url in links.items()]
    entries = [_match(s, base, "match", project) for s in page.resources]
    entries += [_match(s, base, "include", project) for s in page.included]
    bundle["entry"] = entries
    return bundle


def _match(
    stored: StoredResource, base: str, mode: str, project: Callable[[Json], Json] | None
) -> Json:
    content = (
        stored.response_json()
        if project is None or stored.content is None
        else project(stored.content)
    )
    return {
        "fullUrl": f"{base}/{stored.resource_type}/{stored.id}",
        "resource": content,
        "search": {"mode": mode},
    }


def _history_status(stored: StoredResource) -> str:
    if stored.deleted:
        return "204 No Content"
    return "201 Created" if stored.version == 1 else "200 OK"


def history_bundle(page: Page, base: str, links: dict[str, str]) -> Json:
    entries = []
    for stored, method in zip(
        page.resources, page.methods or ["PUT"] * len(page.resources), strict=True
    ):
        url = stored.resource_type + ("" if method == "POST" else f"/{stored.id}")
        entry: Json = {
            "fullUrl": f"{base}/{stored.resource_type}/{stored.id}",
            "request": {"method": method, "url": url},
            "response": {
                "status": _history_status(stored),
                "etag": stored.etag,
                "lastModified": format_instant(stored.last_updated),
            },
        }
        resource = stored.response_json()  # None for a tombstone
        if resource is not None:
            entry["resource"] = resource
        entries.append(entry)
    bundle: Json = {"resourceType": "Bundle", "type": "history"}
    bundle["link"] = [{"relation": rel, "url": url} for rel, url in links.items()]
    bundle["entry"] = entries
    return bundle
