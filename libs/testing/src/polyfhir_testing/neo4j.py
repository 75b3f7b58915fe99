"""Neo4j for the graph tests: only an external server (``POLYFHIR_TEST_NEO4J_URI``).

There is no embeddable Neo4j (it is a JVM server); the development machines
run none, so the Neo4j variants of the graph tests are skipped unless a URI is
given (CI with a server, or the compose test).
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ExternalNeo4j:
    uri: str
    user: str
    password: str


def neo4j_from_env() -> ExternalNeo4j | None:
    uri = os.environ.get("POLYFHIR_TEST_NEO4J_URI", "").strip()
    if not uri:
        return None
    return ExternalNeo4j(
        uri,
        os.environ.get("POLYFHIR_TEST_NEO4J_USER", "neo4j"),
        os.environ.get("POLYFHIR_TEST_NEO4J_PASSWORD", "neo4j"),
    )
