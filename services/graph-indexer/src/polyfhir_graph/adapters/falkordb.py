"""FalkorDB (the local engine): the graph over the ``falkordb`` asyncio client.

One FalkorDB graph (``GRAPH.QUERY <graph>``) holds every tenant; the tenant
is a property on every node and in every statement (``adapters/cypher.py``).

``AsyncGraph`` is built on our own ``redis.asyncio`` client rather than through
``falkordb.asyncio.FalkorDB``: that constructor probes for a cluster with a
*synchronous* ``INFO`` call, which blocks the event loop and fails outright
while the engine is still starting. One standalone server is what we run.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from falkordb.asyncio.graph import AsyncGraph
from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from polyfhir_core.errors import ServiceUnavailable
from polyfhir_graph.adapters.cypher import CypherGraph, Rows
from polyfhir_graph.service_layer.ports import GraphRefused

RETRIES = 2
TRANSIENT = ("timed out", "timeout", "loading", "busy", "oom", "max number of clients", "noauth")
"""Error replies about the engine's state, not the statement: retried, never dead-lettered."""
INDEXES = (
    "CREATE INDEX FOR (n:Resource) ON (n.tenant, n.type, n.id)",
    "CREATE INDEX FOR (p:Position) ON (p.graph, p.partition)",
)


LONG_STATEMENT_S = 300.0
INDEX_STATUS = "CALL db.indexes() YIELD status RETURN status"
INDEX_BUILD_WAIT_S = 30.0
INDEX_POLL_S = 0.05
log = logging.getLogger(__name__)


class FalkorGraph(CypherGraph):
    def __init__(self, url: str, graph: str) -> None:
        super().__init__(graph)
        # our own pool: a client built on a pool it was handed never disconnects it.
        # A connection the engine closed (a restart) is retried once on a new one;
        # every statement is idempotent, so a retry after the engine ran it is harmless.
        self._pool = ConnectionPool.from_url(
            url,
            decode_responses=True,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), RETRIES),
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
        )
        self._redis = Redis(connection_pool=self._pool)
        self._graph = AsyncGraph(self._redis, graph)
        # statements over a whole tenant wait longer for their reply than redis-py's 5 s
        self._long_pool = ConnectionPool.from_url(
            url, decode_responses=True, socket_timeout=LONG_STATEMENT_S
        )
        self._long_graph = AsyncGraph(Redis(connection_pool=self._long_pool), graph)

    async def run(self, query: str, params: dict[str, Any]) -> Rows:
        return await self._query(self._graph, query, params)

    async def run_long(self, query: str, params: dict[str, Any]) -> Rows:
        return await self._query(self._long_graph, query, params)

    async def _query(self, graph: AsyncGraph, query: str, params: dict[str, Any]) -> Rows:
        try:
            result = await graph.query(query, params)
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise ServiceUnavailable(f"graph engine unreachable: {exc}") from exc
        except ResponseError as exc:
            if any(marker in str(exc).lower() for marker in TRANSIENT):
                raise ServiceUnavailable(f"graph engine busy: {exc}") from exc
            raise GraphRefused(f"graph engine refused the statement: {exc}") from exc
        except RedisError as exc:
            raise ServiceUnavailable(f"graph engine failed: {exc}") from exc
        return [list(row) for row in result.result_set]

    async def ensure_schema(self) -> None:
        for statement in INDEXES:
            try:
                await self.run(statement, {})
            except GraphRefused as exc:
                if "already indexed" not in str(exc):
                    raise
        await self._indexes_operational()

    async def _indexes_operational(self) -> None:
        """FalkorDB builds an index in the background: until it is operational a walk
        plans a label scan (right, but 50-600x slower). Wait for it, bounded: over a
        large existing graph the indexer starts anyway and walks get faster when the
        build ends."""
        deadline = time.monotonic() + INDEX_BUILD_WAIT_S
        while True:
            statuses = await self.run(INDEX_STATUS, {})
            if all(str(status).upper() == "OPERATIONAL" for (status,) in statuses):
                return
            if time.monotonic() >= deadline:
                log.warning("graph indexes still being built after %ss", INDEX_BUILD_WAIT_S)
                return
            await asyncio.sleep(INDEX_POLL_S)

    async def ping(self) -> None:
        try:
            await self._redis.ping()
        except (RedisError, OSError) as exc:
            raise ServiceUnavailable(f"graph engine unreachable: {exc}") from exc

    async def close(self) -> None:
        await self._redis.aclose()
        await self._pool.disconnect()
        await self._long_pool.disconnect()
