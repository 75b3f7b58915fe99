"""What the service layer needs from a search engine (implemented in ``adapters/``)."""

from __future__ import annotations

from typing import Any, Protocol

from polyfhir_bus.indexing import batch as indexing
from polyfhir_bus.indexing.batch import Outcome
from polyfhir_bus.indexing.queries import TenantIndex
from polyfhir_core.contracts.search_index import IndexState, TextHits
from polyfhir_core.contracts.secondary import IndexedVersion
from polyfhir_core.resources import ResourceKey
from polyfhir_search.domain.documents import IndexDocument

__all__ = ["ItemResult", "Outcome", "SearchEngine"]

ItemResult = indexing.ItemResult[IndexDocument]


class SearchEngine(TenantIndex, Protocol):
    """One derived index (documents plus per-partition applied positions) in one engine.

    Transient failures (engine unreachable, overloaded) raise
    :class:`polyfhir_core.errors.ServiceUnavailable`.
    """

    async def ensure_index(self) -> None: ...

    async def apply_batch(
        self, documents: list[IndexDocument], positions: dict[int, int]
    ) -> list[ItemResult]:
        """Write documents guarded by their version (never lowering a held one), then raise
        the stored applied position of each partition, in the serving index and in the
        generation being built, if any."""

    async def positions(self) -> dict[int, int]: ...

    async def is_complete(self) -> bool:
        """The serving generation proves it holds everything (asked on every search)."""

    async def state(self) -> IndexState:
        """The generation document (read in real time) and the applied positions."""

    async def record_gap(self) -> None:
        """Events were lost (a position jumped): the index is not complete any more."""

    async def mark_complete(self, generation: str, gaps: int) -> bool:
        """Complete again, if still the same generation with the same number of gaps."""

    async def begin_rebuild(self) -> IndexState:
        """A new generation behind the next alias (or the one already being built)."""

    async def finish_rebuild(self, generation: str, gaps: int) -> bool:
        """Move the read alias to the built generation once it has caught up."""

    async def search(self, body: dict[str, Any]) -> TextHits: ...

    async def versions(self, tenant: str, keys: list[ResourceKey]) -> list[IndexedVersion]:
        """Realtime: what the engine holds right now, refreshed or not."""

    async def scan(
        self, tenant: str, after: ResourceKey | None, limit: int
    ) -> list[IndexedVersion]: ...

    async def delete(self, tenant: str, keys: list[ResourceKey]) -> int: ...

    async def delete_tenant(self, tenant: str) -> int: ...

    async def count(self, tenant: str) -> tuple[int, int]:
        """(documents, tombstones) of the tenant."""

    async def ping(self) -> None: ...

    async def close(self) -> None: ...
