"""polyfhir graph-indexer: the reference graph as a secondary (FalkorDB locally, Neo4j)."""
