"""A bounded set of open per-tenant databases (database per tenant).

Opening a tenant's database costs a pool (PostgreSQL) or a writer, readers and
their threads (SQLite); keeping every tenant's open would grow without limit.
:class:`TenantDatabases` keeps at most ``max_open`` open: a lease on a tenant whose
database is closed opens it, closing the least recently used database nobody
holds; when every open one is held, the lease waits for a release. Opens and
closes happen under one lock (simple; an open is a connect and a migration check).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from polyfhir_primary.adapters.database import Database
from polyfhir_primary.adapters.sql.dialect import Conn
from polyfhir_primary.adapters.sql.tenancy.registry import Placement


class TenantDatabase(Database, Protocol):
    """One tenant's database: the ordinary adapter, plus a transaction of its own."""

    def transaction(self) -> AbstractAsyncContextManager[Conn]: ...


class Closable(Protocol):
    async def close(self) -> None: ...


D = TypeVar("D", bound=Closable)


@dataclass(slots=True)
class _Open(Generic[D]):
    database: D
    users: int = 0


class TenantDatabases(Generic[D]):
    """Open databases of type ``D`` (the adapters; anything closable in unit tests)."""

    def __init__(self, opener: Callable[[Placement], Awaitable[D]], max_open: int) -> None:
        self._opener = opener
        self._max = max_open
        self._open: OrderedDict[int, _Open[D]] = OrderedDict()  # least recently used first
        self._changed = asyncio.Condition()
        self.opened = 0  # databases opened so far (a reopen after a close counts again)
        self.most_open = 0  # the most ever open at once

    @property
    def open_count(self) -> int:
        return len(self._open)

    @asynccontextmanager
    async def lease(self, placement: Placement) -> AsyncIterator[D]:
        entry = await self._acquire(placement)
        try:
            yield entry.database
        finally:
            async with self._changed:
                entry.users -= 1
                self._changed.notify_all()

    async def _acquire(self, placement: Placement) -> _Open[D]:
        async with self._changed:
            while True:
                entry = self._open.get(placement.id)
                if entry is not None:
                    entry.users += 1
                    self._open.move_to_end(placement.id)
                    return entry
                if len(self._open) < self._max:
                    break
                idle = next((key for key, e in self._open.items() if e.users == 0), None)
                if idle is None:
                    await self._changed.wait()
                    continue
                await self._open.pop(idle).database.close()
            entry = _Open(await self._opener(placement), users=1)
            self._open[placement.id] = entry
            self.opened += 1
            self.most_open = max(self.most_open, len(self._open))
            return entry

    async def evict(self, placement: Placement) -> None:
        """Close the tenant's database once nobody holds it (before it is dropped)."""
        async with self._changed:
            while (entry := self._open.get(placement.id)) is not None and entry.users:
                await self._changed.wait()
            if entry is not None:
                del self._open[placement.id]
                await entry.database.close()
            self._changed.notify_all()

    async def close(self) -> None:
        async with self._changed:
            while self._open:
                _, entry = self._open.popitem(last=False)
                await entry.database.close()
