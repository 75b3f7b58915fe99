"""An asyncio lock whose urgent acquirers go before the queued ordinary ones.

SQLite has one writer. Under write load the writer connection has a queue of
request transactions (each holds it for its index extraction and inserts); the
outbox relay's own transactions (number a batch, mark it published) take a few
milliseconds, and waiting behind the whole queue twice per batch made
commit -> publish latency grow to seconds. Urgent acquirers wait only for the
current holder.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType


class PriorityLock:
    def __init__(self) -> None:
        self._held = False
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._ordinary: deque[asyncio.Future[None]] = deque()

    def locked(self) -> bool:
        return self._held

    async def acquire(self, *, urgent: bool = False) -> None:
        if not self._held and not self._urgent and not self._ordinary:
            self._held = True
            return
        queue = self._urgent if urgent else self._ordinary
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # the lock was handed to us as we were cancelled: pass it on
            elif waiter in queue:
                queue.remove(waiter)
            raise

    def release(self) -> None:
        """Hand the lock to the next waiter (urgent first), or free it."""
        if not self._held:
            msg = "release of an unlocked PriorityLock"
            raise RuntimeError(msg)
        for queue in (self._urgent, self._ordinary):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)  # ownership passes on: still held
                    return
        self._held = False

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    @asynccontextmanager
    async def urgent(self) -> AsyncIterator[None]:
        await self.acquire(urgent=True)
        try:
            yield
        finally:
            self.release()
