"""HTTP client for the search-indexer service (the SearchIndex contract)."""

from __future__ import annotations

from typing import Any

import httpx

from polyfhir_clients.internal import InternalClient
from polyfhir_core import wire
from polyfhir_core.contracts.search_index import (
    SEARCH_INDEX_CALLS,
    AppliedVersion,
    IndexedVersion,
    IndexState,
    IndexStats,
    TextHits,
    TextSearch,
)
from polyfhir_core.resources import ResourceKey

WAIT_GRACE_S = 5.0  # on top of a wait's own timeout, for the round trip


class HttpSearchIndex(InternalClient):
    def __init__(
        self, base_url: str, client: httpx.AsyncClient | None = None, timeout: float = 30.0
    ) -> None:
        super().__init__(base_url, "/internal/v1/search-index", "search index", client, timeout)

    async def _call(self, name: str, tenant: str, wait_s: float | None = None, **args: Any) -> Any:
        arg_types, result_type = SEARCH_INDEX_CALLS[name]
        body = {"tenant": tenant, "args": {k: wire.dump(arg_types[k], v) for k, v in args.items()}}
        return await self._post(name, body, result_type, wait_s)

    async def search_text(self, tenant: str, request: TextSearch) -> TextHits:
        return await self._call("search_text", tenant, request=request)  # type: ignore[no-any-return]

    async def positions(self, tenant: str) -> dict[int, int]:
        return await self._call("positions", tenant)  # type: ignore[no-any-return]

    async def wait_applied(
        self, tenant: str, versions: list[AppliedVersion], timeout_ms: int
    ) -> bool:
        wait_s = max(self._timeout, timeout_ms / 1000 + WAIT_GRACE_S)
        return await self._call(  # type: ignore[no-any-return]
            "wait_applied", tenant, wait_s, versions=versions, timeout_ms=timeout_ms
        )

    async def wait_positions(self, tenant: str, positions: dict[int, int], timeout_ms: int) -> bool:
        wait_s = max(self._timeout, timeout_ms / 1000 + WAIT_GRACE_S)
        return await self._call(  # type: ignore[no-any-return]
            "wait_positions", tenant, wait_s, positions=positions, timeout_ms=timeout_ms
        )

    async def versions(self, tenant: str, keys: list[ResourceKey]) -> list[IndexedVersion]:
        return await self._call("versions", tenant, keys=keys)  # type: ignore[no-any-return]

    async def scan(
        self, tenant: str, after: ResourceKey | None, limit: int
    ) -> list[IndexedVersion]:
        return await self._call("scan", tenant, after=after, limit=limit)  # type: ignore[no-any-return]

    async def remove(self, tenant: str, keys: list[ResourceKey]) -> int:
        return await self._call("remove", tenant, keys=keys)  # type: ignore[no-any-return]

    async def drop_tenant(self, tenant: str) -> int:
        return await self._call("drop_tenant", tenant)  # type: ignore[no-any-return]

    async def stats(self, tenant: str) -> IndexStats:
        return await self._call("stats", tenant)  # type: ignore[no-any-return]

    async def index_state(self, tenant: str) -> IndexState:
        state: IndexState = await self._call("index_state", tenant)
        return state

    async def mark_complete(self, tenant: str, generation: str, gaps: int) -> bool:
        marked: bool = await self._call("mark_complete", tenant, generation=generation, gaps=gaps)
        return marked

    async def begin_rebuild(self, tenant: str) -> IndexState:
        state: IndexState = await self._call("begin_rebuild", tenant)
        return state

    async def finish_rebuild(self, tenant: str, generation: str, gaps: int) -> bool:
        switched: bool = await self._call(
            "finish_rebuild", tenant, generation=generation, gaps=gaps
        )
        return switched
