"""The SQLite writer's lock: the relay's short transactions go before queued requests."""

from __future__ import annotations

import asyncio

import pytest

from polyfhir_primary.adapters.sql.priority_lock import PriorityLock

pytestmark = pytest.mark.unit


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_urgent_acquirers_go_before_queued_ordinary_ones_which_stay_fifo() -> None:
    lock, order = PriorityLock(), []

    async def ordinary(name: str) -> None:
        async with lock:
            order.append(name)

    async def urgent(name: str) -> None:
        async with lock.urgent():
            order.append(name)

    await lock.acquire()
    tasks = [asyncio.create_task(ordinary("a")), asyncio.create_task(ordinary("b"))]
    await _settle()
    tasks.append(asyncio.create_task(urgent("relay")))
    await _settle()
    lock.release()
    await asyncio.gather(*tasks)
    assert order == ["relay", "a", "b"]
    assert not lock.locked()


async def test_a_cancelled_waiter_neither_holds_nor_blocks_the_lock() -> None:
    lock = PriorityLock()
    await lock.acquire()
    gone = asyncio.create_task(lock.acquire())
    after = asyncio.create_task(lock.acquire(urgent=True))
    await _settle()
    gone.cancel()
    lock.release()  # handed to ``after`` (urgent), ``gone`` is cancelled while queued
    await after
    with pytest.raises(asyncio.CancelledError):
        await gone
    lock.release()
    assert not lock.locked()


async def test_a_waiter_cancelled_just_as_it_got_the_lock_passes_it_on() -> None:
    lock = PriorityLock()
    await lock.acquire()
    first = asyncio.create_task(lock.acquire())
    second = asyncio.create_task(lock.acquire())
    await _settle()
    lock.release()  # ``first`` is handed the lock ...
    first.cancel()  # ... and cancelled before it runs again
    with pytest.raises(asyncio.CancelledError):
        await first
    await second  # the lock went on to the next waiter
    assert lock.locked()
    lock.release()
    assert not lock.locked()
    with pytest.raises(RuntimeError):
        lock.release()
