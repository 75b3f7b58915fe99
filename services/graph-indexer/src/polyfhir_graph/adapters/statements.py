"""The openCypher statements of the graph (the same text for FalkorDB and Neo4j)."""

from __future__ import annotations

from typing import Any

from polyfhir_graph.domain.paths import GraphPath

# Version guard: a node is (re)written only by a version at least the one it holds (an
# equal one rewrites the same edges, which repairs a batch cut between its two
# statements); its outgoing edges go, the new ones come with APPLY_EDGES. Every
# statement is idempotent (MERGE, never CREATE), so the client may retry one whose
# connection broke after the engine ran it.
APPLY_NODES = """
UNWIND $rows AS row
MERGE (n:Resource {tenant: row.tenant, type: row.type, id: row.id})
ON CREATE SET n.version = 0, n.deleted = false
WITH n, row WHERE n.version <= row.version
OPTIONAL MATCH (n)-[old:REF]->()
DELETE old
WITH DISTINCT n, row
SET n.version = row.version, n.deleted = row.deleted, n.last_updated = row.last_updated
RETURN row.tenant, row.type, row.id
"""

APPLY_EDGES = """
UNWIND $rows AS row
MATCH (s:Resource {tenant: row.tenant, type: row.type, id: row.id})
WHERE s.version = row.version
MERGE (t:Resource {tenant: row.tenant, type: row.target_type, id: row.target_id})
ON CREATE SET t.version = 0, t.deleted = false
MERGE (s)-[:REF {param: row.param}]->(t)
"""

RECORD_POSITIONS = """
UNWIND $rows AS row
MERGE (p:Position {graph: $graph, partition: row.partition})
ON CREATE SET p.position = 0
WITH p, row WHERE p.position < row.position
SET p.position = row.position
"""

POSITIONS = "MATCH (p:Position {graph: $graph}) RETURN p.partition, p.position"

VERSIONS = """
UNWIND $keys AS k
MATCH (n:Resource {tenant: $tenant, type: k.type, id: k.id})
WHERE n.version > 0
RETURN n.type, n.id, n.version, n.deleted
"""

SCAN = """
MATCH (n:Resource {tenant: $tenant})
WHERE n.version > 0
  AND (n.type > $after_type OR (n.type = $after_type AND n.id > $after_id))
RETURN n.type, n.id, n.version, n.deleted
ORDER BY n.type, n.id
LIMIT $limit
"""

RESET_NODES = """
UNWIND $keys AS k
MATCH (n:Resource {tenant: $tenant, type: k.type, id: k.id})
WHERE n.version > 0
OPTIONAL MATCH (n)-[old:REF]->()
DELETE old
WITH DISTINCT n
SET n.version = 0, n.deleted = false
RETURN count(n)
"""

PRUNE_PLACEHOLDERS = """
MATCH (n:Resource {tenant: $tenant})
WHERE n.version = 0 AND NOT ()-[:REF]->(n)
DELETE n
"""

# in slices: one statement deleting a million nodes would outlast any client timeout
DELETE_TENANT = """
MATCH (n:Resource {tenant: $tenant})
WITH n LIMIT $limit
DETACH DELETE n
RETURN count(n)
"""

COUNT_NODES = """
MATCH (n:Resource {tenant: $tenant})
WHERE n.version > 0
RETURN n.type, n.deleted, count(n)
"""

COUNT_EDGES = """
MATCH (s:Resource {tenant: $tenant})-[e:REF]->(t:Resource {tenant: $tenant})
RETURN s.type, e.param, t.type, count(e)
"""

# The patients' own nodes, and every live resource whose ``Type|param`` edge (a
# compartment link of the Patient CompartmentDefinition) reaches one of them. The
# patients are matched first and their incoming edges walked (``WITH p``, no inline
# properties on ``s``): with ``(s:Resource {tenant: $tenant})`` FalkorDB scanned every
# node of the tenant and joined (95 ms at 20k resources, ~1 ms this way).
COMPARTMENT = """
MATCH (p:Resource {tenant: $tenant, type: 'Patient'})
WHERE p.id IN $ids
WITH p
MATCH (s:Resource)-[e:REF]->(p)
WHERE s.tenant = $tenant AND (s.type + '|' + e.param) IN $links
  AND s.version > 0 AND s.deleted = false
  AND ($since IS NULL OR s.last_updated >= $since)
  AND ($after_type IS NULL OR s.type > $after_type
       OR (s.type = $after_type AND s.id > $after_id))
RETURN DISTINCT s.type AS type, s.id AS id
UNION
MATCH (p:Resource {tenant: $tenant, type: 'Patient'})
WHERE $with_patients AND p.id IN $ids AND p.version > 0 AND p.deleted = false
  AND ($since IS NULL OR p.last_updated >= $since)
  AND ($after_type IS NULL OR p.type > $after_type
       OR (p.type = $after_type AND p.id > $after_id))
RETURN DISTINCT p.type AS type, p.id AS id
"""


def walk_statement(path: GraphPath) -> tuple[str, dict[str, Any]]:
    """The distinct live ids a walk reaches, one frontier per hop, from the anchor nodes.

    The anchors are matched first (the (tenant, type, id) index); each hop then
    expands the previous hop's *distinct* nodes and keeps those of the hop's type
    in the tenant, so a popular target (an organization with thousands of
    patients) is expanded once, not once per path reaching it. Written as one
    pattern, ``(n0 {…})<-[]-(n1 {…})<-[]-(n2 {…})``, FalkorDB's planner started at
    the far end (an index scan of every node of the searched type, e.g. all
    Observations) and walked towards the anchors: 50-600 ms at 20k resources where
    this shape takes 1-50 ms (docs/graph-indexer.md, "Walk statements").

    Types and parameter codes travel as parameters, never in the text, so the
    engine's plan cache serves every walk of the same depth and directions. The
    caller adds ``$tenant`` and ``$limit``. A node reached is left out only when
    it is a tombstone: a placeholder (a resource referenced before the graph
    saw it) is a fair candidate, since the primary checks every candidate.
    """
    params: dict[str, Any] = {"anchor_type": path.anchor_type, "ids": list(path.anchor_ids)}
    lines = [
        "MATCH (n0:Resource {tenant: $tenant, type: $anchor_type})",
        "WHERE n0.id IN $ids",
    ]
    for i, hop in enumerate(path.hops, start=1):
        params[f"params{i}"] = list(hop.params)
        params[f"type{i}"] = hop.to_type
        arrow = f"-[e{i}:REF]->" if hop.along else f"<-[e{i}:REF]-"
        lines += [
            f"WITH DISTINCT n{i - 1}",
            f"MATCH (n{i - 1}){arrow}(n{i}:Resource)",
            f"WHERE e{i}.param IN $params{i} AND n{i}.tenant = $tenant AND n{i}.type = $type{i}",
        ]
    lines += [
        f"WITH DISTINCT n{len(path.hops)} AS hit",
        "WHERE hit.deleted = false",
        "RETURN hit.id AS id ORDER BY id LIMIT $limit",
    ]
    return "\n".join(lines), params
