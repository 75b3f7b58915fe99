"""A bound on the requests a replica runs at once, handed out fairly between budgets.

``POLYFHIR_MAX_IN_FLIGHT`` requests run; the rest wait in one queue per tenant
budget, and a freed slot goes to the budgets in turn (round robin), the oldest
waiter of each first. A tenant flooding the replica then queues behind its own
requests: another tenant's request waits for at most one slot per budget ahead
of it, instead of sharing the CPU with every request the flood has in flight
(docs/tenancy.md, "Fair share"). A waiter gives up after ``timeout_s``
(:class:`QueueTimeout`: the caller answers 503 with ``Retry-After``).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque

from polyfhir_gateway.fairshare.metrics import QUEUED


class QueueTimeout(Exception):
    """No slot freed up within the wait bound."""


class FairQueue:
    def __init__(self, slots: int, timeout_s: float) -> None:
        if slots < 1:
            raise ValueError("slots must be at least 1")
        self.slots = slots
        self.timeout_s = timeout_s
        self.running = 0
        # budget key -> its waiters, oldest first; the dict's order is the round's order
        self._waiting: OrderedDict[str, deque[asyncio.Future[None]]] = OrderedDict()

    @property
    def waiting(self) -> int:
        return sum(len(waiters) for waiters in self._waiting.values())

    async def acquire(self, key: str, label: str) -> None:
        """Take a slot (give it back with :meth:`release`); wait fairly when none is free."""
        if self.running < self.slots and not self._waiting:
            self.running += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, deque()).append(waiter)
        QUEUED.labels(label).inc()
        try:
            await asyncio.wait_for(asyncio.shield(waiter), self.timeout_s)
        except TimeoutError:
            if waiter.done() and not waiter.cancelled():  # handed a slot as time ran out
                self.release()
            else:
                self._forget(key, waiter)
            raise QueueTimeout from None
        except asyncio.CancelledError:  # the client went away while waiting
            if waiter.done() and not waiter.cancelled():
                self.release()
            else:
                self._forget(key, waiter)
            raise
        finally:
            QUEUED.labels(label).dec()

    def release(self) -> None:
        """A request finished: its slot goes to the next budget in turn, or is freed."""
        while self._waiting:
            key, waiters = next(iter(self._waiting.items()))
            waiter = waiters.popleft()
            if waiters:
                self._waiting.move_to_end(key)  # its next waiter queues behind the others
            else:
                del self._waiting[key]
            if not waiter.done():
                waiter.set_result(None)  # the slot passes on: ``running`` is unchanged
                return
        self.running -= 1

    def _forget(self, key: str, waiter: asyncio.Future[None]) -> None:
        waiter.cancel()
        waiters = self._waiting.get(key)
        if waiters is None:
            return
        try:
            waiters.remove(waiter)
        except ValueError:
            return
        if not waiters:
            del self._waiting[key]
