"""Decode result rows into StoredResources."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from polyfhir_core.resources import StoredResource
from polyfhir_core.tenancy import TenantId
from polyfhir_primary.adapters.sql.dialect import Dialect


def decode_row(tenant: TenantId, row: Sequence[Any], d: Dialect) -> StoredResource:
    rtype, rid, version, last_updated, deleted, content = row[:6]
    return StoredResource(
        tenant=tenant,
        resource_type=rtype,
        id=rid,
        version=int(version),
        last_updated=d.read_ts(last_updated),
        deleted=bool(deleted),
        content=orjson.loads(content) if content is not None else None,
    )
