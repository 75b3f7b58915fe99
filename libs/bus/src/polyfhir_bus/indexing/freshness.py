"""How far an index has applied the stream, and waiting for it to get further.

The applied positions are what the engine stores next to what it indexed, not
a copy in memory: an engine that restarted empty has applied nothing, and says
so. Waiters block on an ``asyncio.Condition`` notified after every batch this
process applies, and re-check against the engine every ``recheck_s`` (the
stored positions; realtime reads of resource versions), so a replica that does
not consume the partition — or does not consume at all — answers correctly
too. Every wait is bounded by its timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Protocol

from polyfhir_core.contracts.secondary import AppliedVersion, IndexedVersion
from polyfhir_core.resources import ResourceKey


class AppliedState(Protocol):
    """What the engine holds: per-partition positions and per-resource versions."""

    async def positions(self) -> dict[int, int]: ...

    async def versions(self, tenant: str, keys: list[ResourceKey]) -> list[IndexedVersion]: ...


def reached(held: dict[int, int], wanted: dict[int, int]) -> bool:
    """Positions start at 1: wanting 0 (nothing published there) is always reached."""
    return all(held.get(p, 0) >= position for p, position in wanted.items())


class Freshness:
    def __init__(self, engine: AppliedState, recheck_s: float = 0.25) -> None:
        self._engine = engine
        self._recheck_s = recheck_s
        self._changed = asyncio.Condition()

    async def advance(self) -> None:
        """A batch was applied and its positions recorded: wake every waiter."""
        async with self._changed:
            self._changed.notify_all()

    async def positions(self) -> dict[int, int]:
        return await self._engine.positions()

    async def wait_positions(self, wanted: dict[int, int], timeout_ms: int) -> bool:
        if all(position <= 0 for position in wanted.values()):
            return True

        async def check() -> bool:
            return reached(await self.positions(), wanted)

        return await self._wait(check, timeout_ms)

    async def wait_applied(
        self, tenant: str, versions: list[AppliedVersion], timeout_ms: int
    ) -> bool:
        wanted: dict[ResourceKey, int] = {}
        for v in versions:
            key = ResourceKey(v.resource_type, v.id)
            wanted[key] = max(wanted.get(key, 0), v.version)
        if not wanted:
            return True

        async def check() -> bool:
            held = {
                ResourceKey(h.resource_type, h.id): h.version
                for h in await self._engine.versions(tenant, list(wanted))
            }
            return all(held.get(k, 0) >= version for k, version in wanted.items())

        return await self._wait(check, timeout_ms)

    async def _wait(self, check: Callable[[], Awaitable[bool]], timeout_ms: int) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(timeout_ms, 0) / 1000
        while True:
            if await check():
                return True
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            async with self._changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), min(remaining, self._recheck_s))
