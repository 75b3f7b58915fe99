"""The Neo4j adapter tells a refused statement (dead letter) from an engine or deployment
problem (retry), and hands rows back as lists (no server: the driver is replaced)."""

from __future__ import annotations

from typing import Any

import pytest
from neo4j.exceptions import Neo4jError
from neo4j.exceptions import ServiceUnavailable as BoltUnavailable

from polyfhir_core.errors import ServiceUnavailable
from polyfhir_graph.adapters.neo4j import Neo4jGraph
from polyfhir_graph.service_layer.ports import GraphRefused

pytestmark = pytest.mark.unit


class Record:
    def __init__(self, *values: Any) -> None:
        self._values = values

    def values(self) -> list[Any]:
        return list(self._values)


class Driver:
    def __init__(self, outcome: Exception | list[Record]) -> None:
        self.outcome = outcome
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def execute_query(self, query: str, params: dict[str, Any], **_: Any) -> Any:
        self.calls.append((query, params))
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome, None, None


async def graph_with(
    monkeypatch: pytest.MonkeyPatch, outcome: Exception | list[Record]
) -> Neo4jGraph:
    graph = Neo4jGraph("neo4j://127.0.0.1:7687", "g", "neo4j", "secret")
    await graph.close()  # the real driver never connected: nothing to reach
    monkeypatch.setattr(graph, "_driver", Driver(outcome))
    return graph


async def test_rows_come_back_as_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    graph = await graph_with(monkeypatch, [Record("Patient", "p1", 2, False)])
    assert await graph.run("RETURN 1", {"tenant": "t"}) == [["Patient", "p1", 2, False]]


@pytest.mark.parametrize(
    ("error", "raised"),
    [
        (
            Neo4jError._hydrate_neo4j(code="Neo.ClientError.Statement.SyntaxError", message="x"),
            GraphRefused,
        ),
        (
            Neo4jError._hydrate_neo4j(
                code="Neo.ClientError.Schema.ConstraintValidationFailed", message="x"
            ),
            GraphRefused,
        ),
        (
            Neo4jError._hydrate_neo4j(code="Neo.ClientError.Security.Unauthorized", message="x"),
            ServiceUnavailable,
        ),
        (
            Neo4jError._hydrate_neo4j(
                code="Neo.ClientError.Database.DatabaseNotFound", message="x"
            ),
            ServiceUnavailable,
        ),
        (
            Neo4jError._hydrate_neo4j(
                code="Neo.TransientError.Transaction.DeadlockDetected", message="x"
            ),
            ServiceUnavailable,
        ),
        (BoltUnavailable("down"), ServiceUnavailable),
    ],
)
async def test_only_the_statement_s_own_errors_are_refusals(
    monkeypatch: pytest.MonkeyPatch, error: Exception, raised: type[Exception]
) -> None:
    graph = await graph_with(monkeypatch, error)
    with pytest.raises(raised):
        await graph.run("MATCH (n) RETURN n", {})
