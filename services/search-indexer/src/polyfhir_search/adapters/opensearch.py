"""The search index on OpenSearch (opensearch-py ``AsyncOpenSearch``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import NotFoundError, RequestError, TransportError

from polyfhir_core.errors import BadRequest, ServiceUnavailable
from polyfhir_search.adapters.engine_index import EngineIndex, IndexMissing


@asynccontextmanager
async def _engine_errors() -> AsyncIterator[None]:
    try:
        yield
    except NotFoundError as exc:
        raise IndexMissing(f"search engine: {exc.error}: {exc.info}") from exc
    except RequestError as exc:
        raise BadRequest(f"search engine rejected the request: {exc.error}: {exc.info}") from exc
    except TransportError as exc:
        raise ServiceUnavailable(f"search engine failed: {exc}") from exc


class OpenSearchIndex(EngineIndex):
    def __init__(self, url: str, prefix: str, client: AsyncOpenSearch | None = None) -> None:
        super().__init__(prefix)
        self._client = client or AsyncOpenSearch(hosts=[url], timeout=30)

    async def _exists(self, index: str) -> bool:
        async with _engine_errors():
            return bool(await self._client.indices.exists(index=index))

    async def _create(self, index: str, settings: dict[str, Any], mappings: dict[str, Any]) -> None:
        async with _engine_errors():
            await self._client.indices.create(
                index=index, body={"settings": settings, "mappings": mappings}
            )

    async def _update_aliases(self, actions: list[dict[str, Any]]) -> None:
        async with _engine_errors():
            await self._client.indices.update_aliases(body={"actions": actions})

    async def _alias_indices(self, alias: str) -> list[str]:
        try:
            async with _engine_errors():
                return sorted(await self._client.indices.get_alias(name=alias))
        except IndexMissing:
            return []

    async def _delete_index(self, index: str) -> None:
        try:
            async with _engine_errors():
                await self._client.indices.delete(index=index)
        except IndexMissing:
            return

    async def _bulk(self, body: bytes) -> list[dict[str, Any]]:
        async with _engine_errors():
            response = await self._client.bulk(body=body, refresh="wait_for")
        return [next(iter(item.values())) for item in response["items"]]

    async def _search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        async with _engine_errors():
            return dict(await self._client.search(index=index, body=body))

    async def _mget(self, index: str, ids: list[str], source: list[str]) -> list[dict[str, Any]]:
        docs = [{"_id": i, "_source": source} for i in ids]
        async with _engine_errors():
            response = await self._client.mget(index=index, body={"docs": docs}, realtime=True)
        return list(response["docs"])

    async def _count(self, index: str, query: dict[str, Any]) -> int:
        async with _engine_errors():
            return int((await self._client.count(index=index, body={"query": query}))["count"])

    async def _ping(self) -> bool:
        try:
            return bool(await self._client.ping())
        except TransportError:
            return False

    async def close(self) -> None:
        await self._client.close()
