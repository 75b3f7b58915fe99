"""HTTP client for the primary-store service (the PrimaryStore contract)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from polyfhir_clients.internal import InternalClient
from polyfhir_core import wire
from polyfhir_core.contracts.primary_store import (
    STORE_CALLS,
    BundleKind,
    EntryRequest,
    EntryResponse,
    HistoryQuery,
    Page,
    ReindexJob,
    ResourceVersion,
    TenantPositions,
)
from polyfhir_core.resources import ResourceKey, StoredResource
from polyfhir_core.search import SearchQuery
from polyfhir_core.tenancy import TenantContext


class HttpPrimaryStore(InternalClient):
    def __init__(
        self, base_url: str, client: httpx.AsyncClient | None = None, timeout: float = 30.0
    ) -> None:
        super().__init__(base_url, "/internal/v1/store", "primary store", client, timeout)

    async def _call(self, name: str, ctx: TenantContext, **args: Any) -> Any:
        arg_types, result_type = STORE_CALLS[name]
        body = {
            "ctx": wire.dump(TenantContext, ctx),
            "args": {k: wire.dump(arg_types[k], v) for k, v in args.items()},
        }
        return await self._post(name, body, result_type)

    async def process(
        self, ctx: TenantContext, kind: BundleKind, entries: Sequence[EntryRequest]
    ) -> list[EntryResponse]:
        return await self._call("process", ctx, kind=kind, entries=list(entries))  # type: ignore[no-any-return]

    async def read(self, ctx: TenantContext, resource_type: str, id: str) -> StoredResource:
        return await self._call("read", ctx, resource_type=resource_type, id=id)  # type: ignore[no-any-return]

    async def vread(
        self, ctx: TenantContext, resource_type: str, id: str, version: int
    ) -> StoredResource:
        return await self._call("vread", ctx, resource_type=resource_type, id=id, version=version)  # type: ignore[no-any-return]

    async def read_many(
        self, ctx: TenantContext, keys: Sequence[ResourceKey]
    ) -> list[StoredResource]:
        return await self._call("read_many", ctx, keys=list(keys))  # type: ignore[no-any-return]

    async def search(self, ctx: TenantContext, query: SearchQuery) -> Page:
        return await self._call("search", ctx, query=query)  # type: ignore[no-any-return]

    async def history(self, ctx: TenantContext, query: HistoryQuery) -> Page:
        return await self._call("history", ctx, query=query)  # type: ignore[no-any-return]

    async def reindex(self, ctx: TenantContext, resource_types: list[str] | None) -> ReindexJob:
        return await self._call("reindex", ctx, resource_types=resource_types)  # type: ignore[no-any-return]

    async def reindex_status(self, ctx: TenantContext, job_id: str) -> ReindexJob:
        return await self._call("reindex_status", ctx, job_id=job_id)  # type: ignore[no-any-return]

    async def reindex_cancel(self, ctx: TenantContext, job_id: str) -> ReindexJob:
        return await self._call("reindex_cancel", ctx, job_id=job_id)  # type: ignore[no-any-return]

    async def positions(self, ctx: TenantContext) -> TenantPositions:
        return await self._call("positions", ctx)  # type: ignore[no-any-return]

    async def list_versions(
        self, ctx: TenantContext, after: ResourceKey | None, limit: int
    ) -> list[ResourceVersion]:
        return await self._call("list_versions", ctx, after=after, limit=limit)  # type: ignore[no-any-return]

    async def republish(self, ctx: TenantContext, keys: Sequence[ResourceKey]) -> int:
        return await self._call("republish", ctx, keys=list(keys))  # type: ignore[no-any-return]

    async def tenants(self, ctx: TenantContext) -> list[str]:
        found: list[str] = await self._call("tenants", ctx)
        return found

    async def stream_positions(self, ctx: TenantContext) -> TenantPositions:
        found: TenantPositions = await self._call("stream_positions", ctx)
        return found
