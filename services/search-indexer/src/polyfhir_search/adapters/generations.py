"""Generations of the search index: physical indices behind an alias, and their bookkeeping.

``<prefix>-resources`` is an **alias** to one physical index,
``<prefix>-resources-<generation>``; every read goes through it. Each physical
index carries its own bookkeeping with its documents (``domain/index_meta.py``):
the applied positions and the generation document (complete? gaps seen?).

**Zero-downtime rebuild** (:meth:`IndexGenerations.begin_rebuild`,
:meth:`IndexGenerations.finish_rebuild`): a new generation is created behind a
second alias, ``<prefix>-resources-next``. While it exists, every batch the
indexer applies is written to it as well (next first, then the serving index),
so it receives the live stream; the gateway republishes every tenant's resources
into it. Searches keep going to the old generation, whose totals stay whole.
When the new one has caught up, one ``_aliases`` request moves the read alias to
it and drops the next alias (atomic for readers), and the old index is deleted.

Two replicas that create the first generation at once each add their index to
the alias; :meth:`IndexGenerations._settle` keeps the one with the smallest name
(every replica picks the same) and deletes the others.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson

from polyfhir_core.contracts.search_index import IndexState
from polyfhir_core.errors import BadRequest, ServiceUnavailable
from polyfhir_search.domain.index_meta import (
    GENERATION_ID,
    POSITIONS_QUERY,
    GenerationDoc,
    generation_write,
    new_generation,
    position_id,
)
from polyfhir_search.domain.mapping import RESOURCE_MAPPINGS, RESOURCE_SETTINGS

T = TypeVar("T")
_GENERATION_FIELDS = ["generation", "complete", "gaps", "revision"]
CAS_ATTEMPTS = 20
MAX_PARTITIONS = 10_000


class IndexMissing(ServiceUnavailable):
    """The engine does not have our index (it restarted empty, or someone deleted it)."""


def ndjson(operations: list[dict[str, Any]]) -> bytes:
    """A bulk body, serialised once with orjson (the clients' own JSON encoders cost
    about a third of a small bulk's round trip)."""
    return b"".join(orjson.dumps(op) + b"\n" for op in operations)


class IndexGenerations(ABC):
    """The alias, its generations and their bookkeeping, over the raw calls of one client."""

    def __init__(self, prefix: str) -> None:
        self.resources = f"{prefix}-resources"  # the read alias
        self.next_alias = f"{prefix}-resources-next"  # the generation being built, if any

    def physical(self, generation: str) -> str:
        return f"{self.resources}-{generation}"

    async def ensure_index(self) -> None:
        """Create a first generation when the alias is missing (at start, and whenever the
        engine lost it): not complete, it holds nothing yet."""
        if not await self._exists(self.resources):
            await self._create_generation(self.resources)

    async def _create_generation(self, alias: str) -> GenerationDoc:
        doc = GenerationDoc(new_generation(), complete=False, gaps=0, revision=1)
        name = self.physical(doc.generation)
        try:
            await self._create(name, RESOURCE_SETTINGS, RESOURCE_MAPPINGS)
        except BadRequest as exc:  # "already exists": a name from the same random id
            raise ServiceUnavailable(f"could not create {name}: {exc}") from exc
        await self._send(generation_write(name, doc))
        await self._update_aliases([{"add": {"index": name, "alias": alias}}])
        await self._settle(alias)
        return doc

    async def _settle(self, alias: str) -> None:
        """Replicas that raced each added an index: keep the smallest name, drop the rest."""
        behind = sorted(await self._alias_indices(alias))
        if len(behind) > 1:
            extra = behind[1:]
            await self._update_aliases([{"remove": {"index": i, "alias": alias}} for i in extra])
            for index in extra:
                await self._delete_index(index)

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

    async def write_targets(self) -> list[str]:
        """Where a batch goes: the generation being built (if any, by its physical name:
        it is never deleted, whereas the next alias moves) first, then the read alias."""
        return [*await self._alias_indices(self.next_alias), self.resources]

    # -- bookkeeping ---------------------------------------------------------------------

    async def record_positions(self, positions: dict[int, int], target: str | None = None) -> None:
        operations: list[dict[str, Any]] = []
        for partition, position in sorted(positions.items()):
            meta: dict[str, Any] = {
                "_index": target or self.resources,
                "_id": position_id(partition),
            }
            meta |= {"version": position, "version_type": "external"}
            operations += [{"index": meta}, {"partition": partition, "position": position}]
        for item in await self._send(operations):
            status = int(item.get("status", 500))
            if status >= 300 and status != 409:
                raise ServiceUnavailable(f"search engine refused a position write: {item}")

    async def positions(self, target: str | None = None) -> dict[int, int]:
        body = {"query": POSITIONS_QUERY, "size": MAX_PARTITIONS}
        found = await self._healing(lambda: self._search(target or self.resources, body))
        hits = found["hits"]["hits"]
        return {int(h["_source"]["partition"]): int(h["_source"]["position"]) for h in hits}

    async def generation(self, target: str | None = None) -> GenerationDoc | None:
        """The generation document, read in real time (None: the engine holds none)."""
        index = target or self.resources
        docs = await self._healing(lambda: self._mget(index, [GENERATION_ID], _GENERATION_FIELDS))
        found = [d for d in docs if d.get("found")]
        return GenerationDoc.from_source(found[0]["_source"]) if found else None

    async def is_complete(self) -> bool:
        """The serving generation is complete (one realtime read: asked on every search)."""
        doc = await self.generation()
        return doc is not None and doc.complete

    async def state(self, target: str | None = None) -> IndexState:
        doc = await self.generation(target)
        positions = await self.positions(target)
        if doc is None:
            return IndexState("", False, 0, positions)
        return IndexState(doc.generation, doc.complete, doc.gaps, positions)

    async def record_gap(self) -> None:
        """Events were lost: no generation that received them is complete any more."""

        def gap(doc: GenerationDoc | None) -> GenerationDoc:
            return doc.with_gap() if doc else GenerationDoc(new_generation(), False, 1, 1)

        for target in await self.write_targets():
            await self._update_generation(gap, target)

    async def mark_complete(self, generation: str, gaps: int, target: str | None = None) -> bool:
        def complete(doc: GenerationDoc | None) -> GenerationDoc | None:
            if doc is None:  # no generation document at all: this repair filled the index
                return GenerationDoc(new_generation(), True, 0, 1) if generation == "" else None
            if (doc.generation, doc.gaps) != (generation, gaps):
                return None  # re-created, or another gap since the repair started
            return doc if doc.complete else doc.completed()

        return await self._update_generation(complete, target) is not None

    async def _update_generation(
        self,
        change: Callable[[GenerationDoc | None], GenerationDoc | None],
        target: str | None = None,
    ) -> GenerationDoc | None:
        """Compare-and-set of the generation document (its revision is the external
        version: a concurrent update is a 409, and the change is computed again)."""
        index = target or self.resources
        for _ in range(CAS_ATTEMPTS):
            current = await self.generation(index)
            wanted = change(current)
            if wanted is None or wanted == current:
                return wanted
            item = (await self._send(generation_write(index, wanted)))[0]
            status = int(item.get("status", 500))
            if status < 300:
                return wanted
            if status != 409:
                raise ServiceUnavailable(f"search engine refused the generation document: {item}")
        raise ServiceUnavailable("the generation document kept changing; try again")

    # -- zero-downtime rebuild -----------------------------------------------------------

    async def begin_rebuild(self) -> IndexState:
        """The generation being built (a new one unless a rebuild is already under way)."""
        await self.ensure_index()
        if not await self._exists(self.next_alias):
            await self._create_generation(self.next_alias)
        return await self.state(self.next_alias)

    async def finish_rebuild(self, generation: str, gaps: int) -> bool:
        """Switch the read alias to the new generation if it is the one the rebuild filled,
        saw no gap since, and has applied at least what the serving index has."""
        new = self.physical(generation)
        if await self._alias_indices(self.next_alias) != [new]:
            return False
        serving = await self._alias_indices(self.resources)
        built, live = await self.positions(self.next_alias), await self.positions()
        if any(built.get(p, 0) < position for p, position in live.items()):
            return False
        if not await self.mark_complete(generation, gaps, self.next_alias):
            return False
        actions: list[dict[str, Any]] = [
            {"remove": {"index": old, "alias": self.resources}} for old in serving
        ]
        actions += [
            {"add": {"index": new, "alias": self.resources}},
            {"remove": {"index": new, "alias": self.next_alias}},
        ]
        await self._update_aliases(actions)
        for old in serving:
            await self._delete_index(old)
        return True

    # --- raw calls, one implementation per client -----------------------------

    @abstractmethod
    async def _exists(self, index: str) -> bool:
        """Whether an index or alias of that name exists."""

    @abstractmethod
    async def _create(self, index: str, settings: dict[str, Any], mappings: dict[str, Any]) -> None:
        """Create the index (BadRequest naming resource_already_exists if it exists)."""

    @abstractmethod
    async def _update_aliases(self, actions: list[dict[str, Any]]) -> None:
        """One ``_aliases`` request: its actions apply atomically."""

    @abstractmethod
    async def _alias_indices(self, alias: str) -> list[str]:
        """The indices behind ``alias`` (none when it does not exist)."""

    @abstractmethod
    async def _delete_index(self, index: str) -> None:
        """Delete an index (one already gone is fine)."""

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
