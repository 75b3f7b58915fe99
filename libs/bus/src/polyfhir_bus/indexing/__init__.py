"""The indexer kit: what every secondary fed by the change stream shares.

A secondary (search-indexer, graph-indexer, the coming terminology indexer)
keeps its own domain (what an event becomes in its engine) and its engine
adapters; the rest is here, written once (docs/architecture.md, "Indexer kit"):

- :mod:`.batch` — the version-guarded batch handler skeleton (newest version
  per resource, tombstones, rejections → dead letters, positions, metrics);
- :mod:`.freshness` — how far the engine has applied the stream and waiting
  for it to get further;
- :mod:`.metrics` — the Prometheus families, named ``polyfhir_<name>_*``;
- :mod:`.settings` — the ``POLYFHIR_*`` settings every consumer shares;
- :mod:`.queries` — the tenant-bound reads and waits of the internal API;
- :mod:`.wiring` — the change-stream consumer and waiting for the engine.
"""
