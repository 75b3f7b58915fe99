"""Serving one port from several processes: ``POLYFHIR_WORKERS`` (docs/operations.md).

A Python process serves on one core (the GIL), so one gateway or primary-store
process cannot use a second core however many requests wait. With ``workers``
above 1 this process binds the listening sockets, forks that many workers
(before any event loop or thread exists), and supervises them: each worker
builds its own app, pools and loop.

Each worker listens on a socket of its own, all bound to the same port with
``SO_REUSEPORT``; the kernel spreads new connections over them by their
addresses. One socket shared by every worker would let whichever worker wakes
first accept every connection waiting (an event loop accepts all it can at each
wakeup): 8 clients opening their keep-alive connections together then all land
on one worker, which serves at one core's rate while the other idles (measured:
219 against 325 to 384 searches/s, benchmarks/README.md, session 13). The supervisor
forwards SIGTERM/SIGINT to every worker and, should a worker end on its own,
stops the others and exits with that worker's code.

``workers == 1`` (the default) serves in this process, as before.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from collections.abc import Callable, Coroutine, Sequence
from types import FrameType
from typing import Any

from pydantic import Field

log = logging.getLogger("polyfhir.workers")

# sockets bound before the fork, by (host, port): a worker serves these instead of binding
_shared: dict[tuple[str, int], socket.socket] = {}


def workers_field() -> Any:
    """The ``workers`` setting (``POLYFHIR_WORKERS``) of every service that serves HTTP."""
    return Field(
        default=1,
        ge=1,
        le=64,
        description="processes serving the port (forked, a socket each on the port); more than one"
        " helps only with a spare core per process (docs/operations.md, 'Workers')",
    )


def shared_socket(host: str, port: int) -> socket.socket | None:
    """The listening socket the supervisor bound for this address, in a worker."""
    return _shared.get((host, port))


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop when it is installed (uvicorn's ``loop="auto"`` choice, which
    applies only when uvicorn creates the loop; ours do), else asyncio's."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - installed with uvicorn[standard]
        return None
    return uvloop.new_event_loop


def run_event_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run ``main`` to completion on a fresh event loop (uvloop when installed)."""
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(main)


def serve_processes(
    main: Callable[[], Coroutine[Any, Any, None]],
    *,
    workers: int,
    host: str,
    ports: Sequence[int],
    bind: Callable[[str, int], socket.socket],
    before_fork: Callable[[], None] | None = None,
) -> None:
    """Run ``main()`` in this process (``workers == 1``) or in ``workers`` forked
    processes, each on its own socket per port (``bind`` must set ``SO_REUSEPORT``, see
    above). ``before_fork``: work
    that must happen once, not per worker (the primary's schema migrations)."""
    if workers <= 1:
        run_event_loop(main())
        return
    if before_fork is not None:
        before_fork()
    first = [bind(host, port) for port in ports]
    bound = [sock.getsockname()[1] for sock in first]  # port 0: the one the first got
    per_worker = [first, *([bind(host, port) for port in bound] for _ in range(workers - 1))]
    children: list[int] = []
    for own in per_worker:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the worker's side runs in the child
            for sock in (s for sockets in per_worker if sockets is not own for s in sockets):
                sock.close()
            _shared.update(zip(((host, port) for port in ports), own, strict=True))
            _worker(main)
        children.append(pid)
    for sockets in per_worker:  # each lives on in its worker alone: a dead worker's
        for sock in sockets:  # socket closes with it, and the kernel stops choosing it
            sock.close()
    log.info("serving with %d worker processes", workers, extra={"workers": children})
    raise SystemExit(_supervise(children))


def _worker(main: Callable[[], Coroutine[Any, Any, None]]) -> None:  # pragma: no cover
    from polyfhir_servicekit.startup import guarded

    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    code = 0
    try:
        guarded(lambda: run_event_loop(main()))()
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    except KeyboardInterrupt:
        code = 0
    finally:
        logging.shutdown()
        os._exit(code)


def _supervise(children: list[int]) -> int:
    """Wait for every worker; the exit code of the first that ended on its own, else 0."""
    live = set(children)
    stopping = False

    def forward(signum: int, _: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        _signal_all(live, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    status = 0
    while live:
        pid, wait_status = os.wait()
        live.discard(pid)
        if stopping:
            continue
        code = os.waitstatus_to_exitcode(wait_status)
        log.warning("worker %d ended on its own (exit code %d): stopping the others", pid, code)
        status = code if code > 0 else 1
        stopping = True
        _signal_all(live, signal.SIGTERM)
    return status


def _signal_all(pids: set[int], signum: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            continue
