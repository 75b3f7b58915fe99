"""The engine-neutral half of the search adapters: request bodies and response parsing.

OpenSearch and Elasticsearch share the document and query DSL; what differs is
the client library (and how it spells its calls and errors). Each engine module
(``opensearch.py``, ``elasticsearch.py``) subclasses :class:`EngineIndex` and
implements the handful of raw calls at the bottom.

One index per prefix, ``<prefix>-resources``: one document per resource (see
``domain/documents.py``) plus the index's bookkeeping kept with them
(``domain/index_meta.py``: one document per Kafka partition holding the highest
applied position, and the generation document saying whether the index is
complete). The resource version, and the position, are the engine's external
version, so a stale write is a 409 the engine refuses by itself: an older
version never overwrites a newer one, whichever replica or redelivery sends it.
Documents use ``external_gte``: the same version may be written again (it is
the same content), because engines remember the version of a *deleted*
document for a while (``gc_deletes``) and a rebuild (the primary republishes
the current versions) must be able to write those versions back. Positions are
written by a second bulk only after every document of the batch is in, so a
recorded position never claims an event that is not applied. Writes use
``refresh=wait_for``: when a batch is acknowledged, searches see it.
"""

from __future__ import annotations

from typing import Any

from polyfhir_bus.events import event_key
from polyfhir_core.contracts.search_index import TextHit, TextHits
from polyfhir_core.contracts.secondary import IndexedVersion
from polyfhir_core.errors import ServiceUnavailable
from polyfhir_core.resources import ResourceKey
from polyfhir_search.adapters.generations import IndexGenerations, IndexMissing, ndjson
from polyfhir_search.domain.documents import IndexDocument
from polyfhir_search.domain.queries import tenant_filter
from polyfhir_search.service_layer.ports import ItemResult, Outcome

__all__ = ["EngineIndex", "IndexMissing", "bulk_chunks", "ndjson"]
_VERSION_FIELDS = ["type", "rid", "version", "deleted"]
DELETE_PAGE = 1000
MAX_BULK_BYTES = 8 * 1024 * 1024  # engines refuse huge bulks (http.max_content_length)


def bulk_chunks(
    documents: list[IndexDocument], max_bytes: int = MAX_BULK_BYTES
) -> list[list[IndexDocument]]:
    """Split documents into bulks of at most ``max_bytes`` of source (one document at least)."""
    chunks: list[list[IndexDocument]] = [[]]
    size = 0
    for doc in documents:
        doc_size = sum(len(v) for v in doc.text.values() if isinstance(v, str)) + 512
        if chunks[-1] and size + doc_size > max_bytes:
            chunks.append([])
            size = 0
        chunks[-1].append(doc)
        size += doc_size
    return [c for c in chunks if c]


def _indexed(source: dict[str, Any]) -> IndexedVersion:
    return IndexedVersion(
        str(source["type"]), str(source["rid"]), int(source["version"]), bool(source["deleted"])
    )


def _item_result(document: IndexDocument, item: dict[str, Any]) -> ItemResult:
    status = int(item.get("status", 500))
    if status < 300:
        return ItemResult(document, Outcome.APPLIED)
    if status == 409:
        return ItemResult(document, Outcome.STALE)
    error = item.get("error")
    reason = str(error.get("reason") or error) if isinstance(error, dict) else str(error)
    if status == 404:
        raise IndexMissing(f"search engine lost the index: {reason}")
    if status == 429 or status >= 500:
        raise ServiceUnavailable(f"search engine refused a write ({status}): {reason}")
    return ItemResult(document, Outcome.REJECTED, f"{status}: {reason}")


class EngineIndex(IndexGenerations):
    """A :class:`polyfhir_search.service_layer.ports.SearchEngine` over one client."""

    async def apply_batch(
        self, documents: list[IndexDocument], positions: dict[int, int]
    ) -> list[ItemResult]:
        """Documents, then positions, into the serving index and the generation being
        built (if any; one that appears meanwhile gets the batch too). The results are
        the serving index's."""
        # Before writing, make sure the index (with its analyzers) exists: an engine that
        # restarted empty would otherwise auto-create it with dynamic mappings.
        await self.ensure_index()
        targets = await self.write_targets()
        results: list[ItemResult] = []
        for target in targets:
            results = await self.apply(documents, target)
        for target in targets:
            await self.record_positions(positions, target)
        if len(targets) == 1 and len(late := await self.write_targets()) > 1:
            await self.apply(documents, late[0])
            await self.record_positions(positions, late[0])
        return results

    async def apply(
        self, documents: list[IndexDocument], target: str | None = None
    ) -> list[ItemResult]:
        results: list[ItemResult] = []
        for chunk in bulk_chunks(documents):
            operations: list[dict[str, Any]] = []
            for doc in chunk:
                meta: dict[str, Any] = {"_index": target or self.resources, "_id": doc.doc_id}
                meta |= {"version": doc.version, "version_type": "external_gte"}
                operations += [{"index": meta}, doc.source()]
            items = await self._send(operations)
            results += [_item_result(doc, item) for doc, item in zip(chunk, items, strict=True)]
        return results

    async def search(self, body: dict[str, Any]) -> TextHits:
        found = (await self._healing(lambda: self._search(self.resources, body)))["hits"]
        total = found["total"]
        hits = tuple(
            TextHit(str(h["_source"]["type"]), str(h["_source"]["rid"]), float(h["_score"] or 0))
            for h in found["hits"]
        )
        return TextHits(hits, int(total["value"] if isinstance(total, dict) else total))

    async def versions(self, tenant: str, keys: list[ResourceKey]) -> list[IndexedVersion]:
        if not keys:
            return []
        ids = [event_key(tenant, k.resource_type, k.id) for k in keys]
        docs = await self._healing(lambda: self._mget(self.resources, ids, _VERSION_FIELDS))
        return [_indexed(d["_source"]) for d in docs if d.get("found")]

    async def scan(
        self, tenant: str, after: ResourceKey | None, limit: int
    ) -> list[IndexedVersion]:
        body: dict[str, Any] = {
            "query": {"bool": {"filter": tenant_filter(tenant)}},
            "sort": [{"type": "asc"}, {"rid": "asc"}],
            "size": limit,
            "_source": _VERSION_FIELDS,
        }
        if after is not None:
            body["search_after"] = [after.resource_type, after.id]
        hits = (await self._healing(lambda: self._search(self.resources, body)))["hits"]["hits"]
        return [_indexed(h["_source"]) for h in hits]

    async def _delete_held(self, tenant: str, held: list[IndexedVersion]) -> int:
        # Deleted at their own version (external_gte): the engine remembers that version
        # for a deleted id, so a rebuild can write it back; a plain delete would bump it.
        # A newer version that arrived since it was read is not deleted (409).
        operations: list[dict[str, Any]] = []
        for v in held:
            meta = {"_index": self.resources, "_id": event_key(tenant, v.resource_type, v.id)}
            operations.append(
                {"delete": {**meta, "version": v.version, "version_type": "external_gte"}}
            )
        items = await self._send(operations)
        return sum(1 for item in items if item.get("result") == "deleted")

    async def delete(self, tenant: str, keys: list[ResourceKey]) -> int:
        return await self._delete_held(tenant, await self.versions(tenant, keys))

    async def delete_tenant(self, tenant: str) -> int:
        removed, after = 0, None
        while page := await self.scan(tenant, after, DELETE_PAGE):
            removed += await self._delete_held(tenant, page)
            after = ResourceKey(page[-1].resource_type, page[-1].id)
        return removed

    async def count(self, tenant: str) -> tuple[int, int]:
        async def counts() -> tuple[int, int]:
            found = []
            for deleted in (False, True):
                filters = [*tenant_filter(tenant), {"term": {"deleted": deleted}}]
                found.append(await self._count(self.resources, {"bool": {"filter": filters}}))
            return found[0], found[1]

        return await self._healing(counts)

    async def ping(self) -> None:
        if not await self._ping():
            raise ServiceUnavailable("search engine does not answer")
        await self.ensure_index()  # an engine that came back empty gets its indices again
