"""The bound on open tenant databases: least recently used idle one closed first, a
lease waits while every open one is in use, eviction waits for its users."""

from __future__ import annotations

import asyncio

from fakes.tenant_databases import ClosableDatabase
from polyfhir_primary.adapters.sql.tenancy.registry import Placement
from polyfhir_primary.adapters.sql.tenancy.tenant_pools import TenantDatabases


def _bounded(max_open: int) -> tuple[TenantDatabases[ClosableDatabase], list[str]]:
    log: list[str] = []

    async def opener(p: Placement) -> ClosableDatabase:
        return ClosableDatabase(p, log)

    return TenantDatabases(opener, max_open), log


A, B, C = (Placement(i, name, f"{name}.db") for i, name in enumerate("abc", start=1))


async def test_the_least_recently_used_idle_database_is_closed_first() -> None:
    pools, log = _bounded(2)
    for p in (A, B, A, C):  # B is the least recently used when C needs room
        async with pools.lease(p) as db:
            assert db.placement == p
    assert log == ["open a", "open b", "close b", "open c"]
    assert (pools.open_count, pools.most_open, pools.opened) == (2, 2, 3)
    await pools.close()
    assert log[-2:] == ["close a", "close c"]


async def test_a_lease_waits_while_every_open_database_is_in_use() -> None:
    pools, log = _bounded(1)
    a_held, c_opened = asyncio.Event(), asyncio.Event()
    release_a = asyncio.Event()

    async def hold_a() -> None:
        async with pools.lease(A):
            a_held.set()
            await release_a.wait()

    async def want_c() -> None:
        async with pools.lease(C):
            c_opened.set()

    holder = asyncio.create_task(hold_a())
    await a_held.wait()
    waiter = asyncio.create_task(want_c())
    for _ in range(5):  # let the waiter reach the bound
        await asyncio.sleep(0)
    assert not c_opened.is_set() and log == ["open a"]
    release_a.set()
    await asyncio.gather(holder, waiter)
    assert log == ["open a", "close a", "open c"]
    assert pools.most_open == 1


async def test_eviction_waits_for_the_databases_users() -> None:
    pools, log = _bounded(2)
    leased = asyncio.Event()
    release = asyncio.Event()

    async def use_a() -> None:
        async with pools.lease(A):
            leased.set()
            await release.wait()

    user = asyncio.create_task(use_a())
    await leased.wait()
    evicting = asyncio.create_task(pools.evict(A))
    for _ in range(5):
        await asyncio.sleep(0)
    assert log == ["open a"] and not evicting.done()
    release.set()
    await asyncio.gather(user, evicting)
    assert log == ["open a", "close a"] and pools.open_count == 0
