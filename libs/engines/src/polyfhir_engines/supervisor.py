"""Keep the local stack's children running: restart the dead ones with bounded backoff.

A child (an engine or a service) that exits for any reason is started again,
on its own port, after a delay that doubles with each consecutive restart
(``Backoff``: 0.5 s, 1 s, 2 s, ... capped at 30 s). A child that then stays up
for ``stable_after`` seconds has its count reset, so one crash a day always
comes back in half a second. After ``give_up_after`` consecutive restarts that
did not stay up the supervisor gives up on the stack (``polyfhir stack`` exits
1): a child that cannot start is a configuration error, not a crash.

Every decision is one structured log line (logger ``polyfhir.supervisor``):
``child exited`` (child, exit_code, attempt, next_delay_s), ``child restarted``
(child, attempt, pid) and ``child restart failed`` / ``gave up``.

:meth:`Supervisor.tick` takes the time as an argument and does one round of
decisions, so the policy is tested without processes or clocks;
:meth:`Supervisor.run` calls it in a loop until told to stop. A restart waits
until the child is ready, which can take a while (a service that waits for its
engine), so each runs in a thread of its own (``launch``) and one slow child
never delays another's restart; a child whose restart is under way is left
alone until it has finished.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger("polyfhir.supervisor")


class Child(Protocol):
    """What the supervisor needs of a child: an engine or a service of the stack."""

    @property
    def name(self) -> str: ...

    @property
    def running(self) -> bool: ...

    @property
    def pid(self) -> int | None: ...

    @property
    def exit_code(self) -> int | None: ...

    def start(self) -> object:
        """Start the child and return once it is ready (raise if it cannot)."""
        ...

    def stop(self) -> None:
        """Stop the child (one that started but never became ready)."""
        ...


@dataclass(frozen=True)
class Backoff:
    """When to restart: exponential, capped, reset after a stable run, bounded in count."""

    initial_s: float = 0.5
    factor: float = 2.0
    maximum_s: float = 30.0
    stable_after_s: float = 60.0
    give_up_after: int = 10

    def delay(self, attempt: int) -> float:
        """The wait before restart number ``attempt`` (1, 2, ...) of a row."""
        return float(min(self.maximum_s, self.initial_s * self.factor ** (attempt - 1)))


Launch = Callable[[Callable[[], None]], object]


def in_thread(restart: Callable[[], None]) -> threading.Thread:
    """Run a restart in a daemon thread (the default ``launch``)."""
    thread = threading.Thread(target=restart, name="restart", daemon=True)
    thread.start()
    return thread


@dataclass
class _Watch:
    attempt: int = 0
    due: float | None = None
    up_since: float | None = None
    restarting: bool = False


class Supervisor:
    """Restarts the children of a stack that die; see the module docstring."""

    def __init__(
        self, children: Sequence[Child], backoff: Backoff | None = None, launch: Launch = in_thread
    ) -> None:
        self.children = list(children)
        self.backoff = backoff or Backoff()
        self.launch = launch
        self.gave_up: list[str] = []
        self.restarts: Counter[str] = Counter()  # successful restarts per child
        self._watches = {child.name: _Watch() for child in self.children}
        self._held: set[str] = set()
        self._lock = threading.Lock()
        self._launched: list[threading.Thread] = []

    def tick(self, now: float) -> None:
        """One round: note the dead, restart those whose delay has passed."""
        with self._lock:
            for child in self.children:
                if child.name not in self._held and not self.gave_up:
                    self._watch(child, self._watches[child.name], now)

    def _watch(self, child: Child, watch: _Watch, now: float) -> None:
        if watch.restarting:
            return
        if child.running:
            if watch.up_since is None:
                watch.up_since = now
            elif now - watch.up_since >= self.backoff.stable_after_s:
                watch.attempt = 0
            return
        watch.up_since = None
        if watch.due is None:
            self._schedule(child, watch, now)
        elif now >= watch.due:
            watch.due, watch.restarting = None, True
            launched = self.launch(lambda: self._restart(child, watch))
            if isinstance(launched, threading.Thread):
                self._launched = [t for t in self._launched if t.is_alive()] + [launched]

    def _schedule(self, child: Child, watch: _Watch, now: float) -> None:
        watch.attempt += 1
        fields = {"child": child.name, "exit_code": child.exit_code, "attempt": watch.attempt}
        if watch.attempt > self.backoff.give_up_after:
            self.gave_up.append(child.name)
            log.error("gave up: child keeps exiting", extra=fields)
            return
        delay = self.backoff.delay(watch.attempt)
        watch.due = now + delay
        log.warning("child exited", extra={**fields, "next_delay_s": delay})

    def _restart(self, child: Child, watch: _Watch) -> None:
        try:
            child.start()
        except Exception as error:  # the next tick sees it down and schedules the next attempt
            log.warning(
                "child restart failed",
                extra={"child": child.name, "attempt": watch.attempt, "error": str(error)},
            )
            self._stop_unready(child)
        else:
            self.restarts[child.name] += 1
            fields = {"child": child.name, "attempt": watch.attempt, "pid": child.pid}
            log.warning("child restarted", extra=fields)
        finally:
            watch.restarting = False

    @staticmethod
    def _stop_unready(child: Child) -> None:
        """A child that runs but never became ready is stopped, so it counts as down."""
        if child.running:
            child.stop()

    @contextmanager
    def holding(self, name: str) -> Iterator[None]:
        """Leave ``name`` alone (stopped on purpose) until the block ends; then it is
        restarted like any dead child."""
        with self._lock:
            self._held.add(name)
        try:
            yield
        finally:
            with self._lock:
                self._held.discard(name)
                self._watches[name].due = None

    def run(self, stopping: threading.Event, interval_s: float = 0.2) -> bool:
        """Supervise until ``stopping`` is set (True) or it gives up on a child (False).

        Returns only once no restart is under way, so stopping the stack afterwards
        cannot leave a child that a late restart started."""
        try:
            while not stopping.wait(interval_s):
                self.tick(time.monotonic())
                if self.gave_up:
                    return False
            return True
        finally:
            for thread in self._launched:
                thread.join(timeout=120)  # a restart waits for readiness, bounded by its child

    @contextmanager
    def running_in_background(self, interval_s: float = 0.2) -> Iterator[Supervisor]:
        """:meth:`run` in a thread for the duration of the block (tests, embedding)."""
        stopping = threading.Event()
        thread = threading.Thread(
            target=self.run, args=(stopping, interval_s), name="supervisor", daemon=True
        )
        thread.start()
        try:
            yield self
        finally:
            stopping.set()
            thread.join(timeout=120)
