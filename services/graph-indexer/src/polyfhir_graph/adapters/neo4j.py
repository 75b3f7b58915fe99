"""Neo4j 5 (the production engine): the graph over the official async Bolt driver.

The same statements as FalkorDB (``adapters/cypher.py``); only the schema
statements differ (``IF NOT EXISTS``). Tenant isolation is by property, as for
FalkorDB: one database, the tenant on every node of every statement.
"""

from __future__ import annotations

from typing import Any

from neo4j import AsyncGraphDatabase, RoutingControl
from neo4j.exceptions import ClientError, DriverError, Neo4jError
from neo4j.exceptions import ServiceUnavailable as Neo4jUnavailable

from polyfhir_core.errors import ServiceUnavailable
from polyfhir_graph.adapters.cypher import CypherGraph, Rows
from polyfhir_graph.service_layer.ports import GraphRefused

REFUSALS = ("Neo.ClientError.Statement.", "Neo.ClientError.Schema.")
"""Error codes that are about the statement and its data (dead-letter the record)."""

SCHEMA = (
    "CREATE INDEX polyfhir_resource_key IF NOT EXISTS FOR (n:Resource) ON (n.tenant, n.type, n.id)",
    "CREATE INDEX polyfhir_resource_tenant IF NOT EXISTS FOR (n:Resource) ON (n.tenant)",
    "CREATE INDEX polyfhir_position IF NOT EXISTS FOR (p:Position) ON (p.graph, p.partition)",
)


class Neo4jGraph(CypherGraph):
    def __init__(
        self, uri: str, graph: str, user: str, password: str, database: str | None = None
    ) -> None:
        super().__init__(graph)
        self._driver = AsyncGraphDatabase.driver(uri, auth=(user, password))
        self._database = database

    async def run(self, query: str, params: dict[str, Any]) -> Rows:
        try:
            records, _, _ = await self._driver.execute_query(
                query, params, database_=self._database, routing_=RoutingControl.WRITE
            )
        except Neo4jUnavailable as exc:
            raise ServiceUnavailable(f"graph engine unreachable: {exc}") from exc
        except ClientError as exc:
            if not (exc.code or "").startswith(REFUSALS):
                # authentication, a missing database, ...: the deployment, not the record
                raise ServiceUnavailable(f"graph engine refused us: {exc}") from exc
            raise GraphRefused(f"graph engine refused the statement: {exc}") from exc
        except (Neo4jError, DriverError, OSError) as exc:
            raise ServiceUnavailable(f"graph engine failed: {exc}") from exc
        return [list(record.values()) for record in records]

    async def ensure_schema(self) -> None:
        for statement in SCHEMA:
            await self.run(statement, {})

    async def ping(self) -> None:
        try:
            await self._driver.verify_connectivity()
        except (Neo4jError, DriverError, OSError) as exc:
            raise ServiceUnavailable(f"graph engine unreachable: {exc}") from exc

    async def close(self) -> None:
        await self._driver.close()
