"""The search index on Elasticsearch (elasticsearch-py ``AsyncElasticsearch``).

elasticsearch-py 9 always sends ``application/vnd.elasticsearch+json;
compatible-with=9`` which OpenSearch-API servers (such as osmem) refuse with 406.
``compatibility_headers=False`` installs a transport that sends plain
``application/json`` / ``application/x-ndjson`` instead; real Elasticsearch
keeps the default.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, cast

from elastic_transport import AsyncTransport, HttpHeaders, TransportApiResponse
from elastic_transport import TransportError as ElasticTransportError
from elasticsearch import AsyncElasticsearch
from elasticsearch.exceptions import ApiError, BadRequestError, NotFoundError

from polyfhir_core.errors import BadRequest, ServiceUnavailable
from polyfhir_search.adapters.engine_index import EngineIndex, IndexMissing

_COMPAT = re.compile(r"application/vnd\.elasticsearch\+([a-z-]+)(;\s*compatible-with=\d+)?")


class PlainJsonTransport(AsyncTransport):
    """Rewrites the client's compatibility media types back to plain JSON / NDJSON."""

    async def perform_request(  # type: ignore[override]
        self, method: str, target: str, *, headers: Any = None, **kwargs: Any
    ) -> TransportApiResponse:
        if isinstance(headers, Mapping):
            plain = HttpHeaders(headers)
            for name in ("accept", "content-type"):
                if value := plain.get(name):
                    plain[name] = _COMPAT.sub(r"application/\1", value)
            headers = plain
        if headers is None:
            return await super().perform_request(method, target, **kwargs)
        return await super().perform_request(method, target, headers=headers, **kwargs)


@asynccontextmanager
async def _engine_errors() -> AsyncIterator[None]:
    try:
        yield
    except NotFoundError as exc:
        raise IndexMissing(f"search engine: {exc.message}: {exc.body}") from exc
    except BadRequestError as exc:
        raise BadRequest(f"search engine rejected the request: {exc.message}: {exc.body}") from exc
    except (ApiError, ElasticTransportError) as exc:
        raise ServiceUnavailable(f"search engine failed: {exc}") from exc


class ElasticsearchIndex(EngineIndex):
    def __init__(
        self,
        url: str,
        prefix: str,
        compatibility_headers: bool = True,
        client: AsyncElasticsearch | None = None,
    ) -> None:
        super().__init__(prefix)
        transport = AsyncTransport if compatibility_headers else PlainJsonTransport
        self._client = client or AsyncElasticsearch(
            url, transport_class=transport, request_timeout=30
        )

    async def _exists(self, index: str) -> bool:
        async with _engine_errors():
            return bool(await self._client.indices.exists(index=index))

    async def _create(self, index: str, settings: dict[str, Any], mappings: dict[str, Any]) -> None:
        async with _engine_errors():
            await self._client.indices.create(index=index, settings=settings, mappings=mappings)

    async def _update_aliases(self, actions: list[dict[str, Any]]) -> None:
        async with _engine_errors():
            await self._client.indices.update_aliases(actions=actions)

    async def _alias_indices(self, alias: str) -> list[str]:
        try:
            async with _engine_errors():
                return sorted((await self._client.indices.get_alias(name=alias)).body)
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
            # The NDJSON serializer passes an already serialised body through unchanged
            # (the type hints only name the list form).
            operations = cast(Any, body)
            response = await self._client.bulk(operations=operations, refresh="wait_for")
        return [next(iter(item.values())) for item in response["items"]]

    async def _search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        async with _engine_errors():
            return dict((await self._client.search(index=index, body=body)).body)

    async def _mget(self, index: str, ids: list[str], source: list[str]) -> list[dict[str, Any]]:
        docs = [{"_id": i, "_source": source} for i in ids]
        async with _engine_errors():
            response = await self._client.mget(index=index, docs=docs, realtime=True)
        return list(response["docs"])

    async def _count(self, index: str, query: dict[str, Any]) -> int:
        async with _engine_errors():
            return int((await self._client.count(index=index, query=query))["count"])

    async def _ping(self) -> bool:
        try:
            return bool(await self._client.ping())
        except (ApiError, ElasticTransportError):
            return False

    async def close(self) -> None:
        await self._client.close()
