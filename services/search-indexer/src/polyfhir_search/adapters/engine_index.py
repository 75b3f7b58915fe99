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

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson

from polyfhir_bus.events import event_key
from polyfhir_core.contracts.search_index import IndexedVersion, IndexState, TextHit, TextHits
from polyfhir_core.errors import BadRequest, ServiceUnavailable
from polyfhir_core.resources import ResourceKey
from polyfhir_search.domain.documents import IndexDocument
from polyfhir_search.domain.index_meta import (
    GENERATION_ID,
    POSITIONS_QUERY,
    GenerationDoc,
    generation_write,
    new_generation,
    position_id,
)
from polyfhir_search.domain.mapping import RESOURCE_MAPPINGS, RESOURCE_SETTINGS
from polyfhir_search.domain.queries import tenant_filter
from polyfhir_search.service_layer.ports import ItemResult, Outcome

T = TypeVar("T")
_VERSION_FIELDS = ["type", "rid", "version", "deleted"]
_GENERATION_FIELDS = ["generation", "complete", "gaps", "revision"]
CAS_ATTEMPTS = 20
MAX_PARTITIONS = 10_000
DELETE_PAGE = 1000
MAX_BULK_BYTES = 8 * 1024 * 1024  # engines refuse huge bulks (http.max_content_length)


def ndjson(operations: list[dict[str, Any]]) -> bytes:
    """A bulk body, serialised once with orjson (the clients' own JSON encoders cost
    about a third of a small bulk's round trip)."""
    return b"".join(orjson.dumps(op) + b"\n" for op in operations)


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


class IndexMissing(ServiceUnavailable):
    """The engine does not have our index (it restarted empty, or someone deleted it)."""


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


class EngineIndex(ABC):
    """A :class:`polyfhir_search.service_layer.ports.SearchEngine` over one client."""

    def __init__(self, prefix: str) -> None:
        self.resources = f"{prefix}-resources"

    async def ensure_index(self) -> None:
        """Create the index when it is missing (at start, and whenever the engine lost it),
        with a new generation that is not complete: it holds nothing yet."""
        if await self._exists(self.resources):
            return
        try:
            await self._create(self.resources, RESOURCE_SETTINGS, RESOURCE_MAPPINGS)
        except BadRequest as exc:  # another replica created it in between: fine
            if "resource_already_exists" not in str(exc):
                raise
            return
        fresh = GenerationDoc(new_generation(), complete=False, gaps=0, revision=1)
        await self._send(generation_write(self.resources, fresh))

    async def _send(self, operations: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One bulk of ``operations`` (none: no request); one result per action."""
        return await self._bulk(ndjson(operations)) if operations else []

    async def _healing(self, call: Callable[[], Awaitable[T]]) -> T:
        """Run ``call``; if the index is gone, re-create it and run ``call`` once more."""
        try:
            return await call()
        except IndexMissing:
            await self.ensure_index()
            return await call()

    async def apply(self, documents: list[IndexDocument]) -> list[ItemResult]:
        # Before writing, make sure the index (with its analyzers) exists: an engine that
        # restarted empty would otherwise auto-create it with dynamic mappings.
        await self.ensure_index()
        results: list[ItemResult] = []
        for chunk in bulk_chunks(documents):
            operations: list[dict[str, Any]] = []
            for doc in chunk:
                meta: dict[str, Any] = {"_index": self.resources, "_id": doc.doc_id}
                meta |= {"version": doc.version, "version_type": "external_gte"}
                operations += [{"index": meta}, doc.source()]
            items = await self._send(operations)
            results += [_item_result(doc, item) for doc, item in zip(chunk, items, strict=True)]
        return results

    async def record_positions(self, positions: dict[int, int]) -> None:
        operations: list[dict[str, Any]] = []
        for partition, position in sorted(positions.items()):
            meta: dict[str, Any] = {"_index": self.resources, "_id": position_id(partition)}
            meta |= {"version": position, "version_type": "external"}
            operations += [{"index": meta}, {"partition": partition, "position": position}]
        for item in await self._send(operations):
            status = int(item.get("status", 500))
            if status >= 300 and status != 409:
                raise ServiceUnavailable(f"search engine refused a position write: {item}")

    async def positions(self) -> dict[int, int]:
        body = {"query": POSITIONS_QUERY, "size": MAX_PARTITIONS}
        found = await self._healing(lambda: self._search(self.resources, body))
        hits = found["hits"]["hits"]
        return {int(h["_source"]["partition"]): int(h["_source"]["position"]) for h in hits}

    async def generation(self) -> GenerationDoc | None:
        """The generation document, read in real time (None: the engine holds none)."""
        docs = await self._healing(
            lambda: self._mget(self.resources, [GENERATION_ID], _GENERATION_FIELDS)
        )
        found = [d for d in docs if d.get("found")]
        return GenerationDoc.from_source(found[0]["_source"]) if found else None

    async def state(self) -> IndexState:
        doc = await self.generation()
        if doc is None:
            return IndexState("", False, 0, await self.positions())
        return IndexState(doc.generation, doc.complete, doc.gaps, await self.positions())

    async def record_gap(self) -> GenerationDoc:
        """Events were lost: the index is not complete any more, until a repair."""

        def gap(doc: GenerationDoc | None) -> GenerationDoc:
            return doc.with_gap() if doc else GenerationDoc(new_generation(), False, 1, 1)

        updated = await self._update_generation(gap)
        assert updated is not None
        return updated

    async def mark_complete(self, generation: str, gaps: int) -> bool:
        def complete(doc: GenerationDoc | None) -> GenerationDoc | None:
            if doc is None:  # no generation document at all: this repair filled the index
                return GenerationDoc(new_generation(), True, 0, 1) if generation == "" else None
            if (doc.generation, doc.gaps) != (generation, gaps):
                return None  # re-created, or another gap since the repair started
            return doc if doc.complete else doc.completed()

        return await self._update_generation(complete) is not None

    async def _update_generation(
        self, change: Callable[[GenerationDoc | None], GenerationDoc | None]
    ) -> GenerationDoc | None:
        """Compare-and-set of the generation document (its revision is the external
        version: a concurrent update is a 409, and the change is computed again)."""
        for _ in range(CAS_ATTEMPTS):
            current = await self.generation()
            wanted = change(current)
            if wanted is None or wanted == current:
                return wanted
            item = (await self._send(generation_write(self.resources, wanted)))[0]
            status = int(item.get("status", 500))
            if status < 300:
                return wanted
            if status != 409:
                raise ServiceUnavailable(f"search engine refused the generation document: {item}")
        raise ServiceUnavailable("the generation document kept changing; try again")

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

    # --- raw calls, one implementation per client -----------------------------

    @abstractmethod
    async def _exists(self, index: str) -> bool: ...

    @abstractmethod
    async def _create(self, index: str, settings: dict[str, Any], mappings: dict[str, Any]) -> None:
        """Create the index (BadRequest naming resource_already_exists if it exists)."""

    @abstractmethod
    async def _bulk(self, body: bytes) -> list[dict[str, Any]]:
        """Run a bulk (an NDJSON ``body``) with ``refresh=wait_for``; one result (the inner
        item) per action."""

    @abstractmethod
    async def _search(self, index: str, body: dict[str, Any]) -> dict[str, Any]: ...

    @abstractmethod
    async def _mget(self, index: str, ids: list[str], source: list[str]) -> list[dict[str, Any]]:
        """Realtime multi-get; one doc entry (with ``found``) per id."""

    @abstractmethod
    async def _count(self, index: str, query: dict[str, Any]) -> int: ...

    @abstractmethod
    async def _ping(self) -> bool: ...

    @abstractmethod
    async def close(self) -> None: ...
