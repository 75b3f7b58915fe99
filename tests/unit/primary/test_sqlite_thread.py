"""A SQLite connection's thread: calls run one at a time in the order queued, results and
errors reach the awaiting caller, a fire-and-forget call that fails does not stop it."""

from __future__ import annotations

import asyncio
import logging
import threading
from functools import partial

import pytest

from polyfhir_primary.adapters.sql.sqlite_thread import ConnectionThread

pytestmark = pytest.mark.unit


async def test_calls_run_in_order_on_one_thread_and_return_their_results() -> None:
    worker = ConnectionThread("test-sqlite")
    seen: list[tuple[int, str]] = []

    def step(n: int) -> int:
        seen.append((n, threading.current_thread().name))
        return n * 10

    try:
        results = await asyncio.gather(*(worker.call(partial(step, n)) for n in range(50)))
    finally:
        worker.stop()
    assert results == [n * 10 for n in range(50)]
    assert [n for n, _ in seen] == list(range(50))
    assert {name for _, name in seen} == {"test-sqlite"}


async def test_an_error_reaches_the_caller_and_the_thread_goes_on() -> None:
    worker = ConnectionThread("test-sqlite")

    def fail() -> None:
        raise ValueError("no such table")

    try:
        with pytest.raises(ValueError, match="no such table"):
            await worker.call(fail)
        assert await worker.call(lambda: "still here") == "still here"
    finally:
        worker.stop()


async def test_a_posted_call_runs_before_later_calls_and_its_failure_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    worker = ConnectionThread("test-sqlite")
    order: list[str] = []

    def commit() -> None:
        order.append("commit")
        raise RuntimeError("database is locked")

    try:
        with caplog.at_level(logging.ERROR):
            worker.post(commit)
            await worker.call(lambda: order.append("next"))
    finally:
        worker.stop()
    assert order == ["commit", "next"]
    assert "database is locked" in caplog.text


async def test_a_caller_that_stops_waiting_does_not_stop_its_call() -> None:
    worker = ConnectionThread("test-sqlite")
    release, ran = threading.Event(), threading.Event()

    def slow() -> None:
        release.wait(10)
        ran.set()

    try:
        waiting = asyncio.ensure_future(worker.call(slow))
        await asyncio.sleep(0)
        waiting.cancel()
        release.set()
        await worker.call(lambda: None)  # queued behind it: it has run by now
        assert ran.is_set()
    finally:
        worker.stop()
