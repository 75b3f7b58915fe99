"""Decode result rows into StoredResources."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from polyfhir_core.resources import StoredResource
from polyfhir_core.tenancy import TenantId
from polyfhir_primary.adapters.sql.dialect import Dialect


def decode_row(tenant: TenantId, row: Sequence[Any], d: Dialect) -> StoredResource:
    """A live version keeps its JSON text and decodes it only when ``content`` is read
    (a page that goes out unchanged is never decoded: ``StoredResource.response_json``)."""
    rtype, rid, version, last_updated, deleted, content = row[:6]
    if content is not None and not deleted:
        return StoredResource.from_stored_json(
            tenant, rtype, rid, int(version), d.read_ts(last_updated), bytes(content)
        )
    return StoredResource(
        tenant=tenant,
        resource_type=rtype,
        id=rid,
        version=int(version),
        last_updated=d.read_ts(last_updated),
        deleted=bool(deleted),
        content=orjson.loads(content) if content is not None else None,
    )
